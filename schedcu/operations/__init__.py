"""The operator's use cases, shared by the command line and the console: submit and the dry run, verify, diff,
exports, the Amion reparse, drafts and repairs, asking a worker about a version, status, following a workflow.
An operation imports no command and no console module."""
