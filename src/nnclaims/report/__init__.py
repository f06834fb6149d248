"""The report: the numbers and sentences the notebooks and the PDF quote, the figure style, the
PDF build, the README table, and which hypotheses were declared after their data."""
