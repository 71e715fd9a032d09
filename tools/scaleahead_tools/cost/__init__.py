"""What running scaleahead costs: measured use, priced by the month (``scaleahead cost``)."""
