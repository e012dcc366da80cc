"""Pure renderers: what a command prints and what a page shows (the terminal, the HTML coverage page, the
drafting views, `ods check`, the ODS writer, the one-line error explanations). A view imports no command and no
console module."""
