from schedcu.cli import main

main()
