"""What leaders read: the status of a period, the summary model and its renderings."""
