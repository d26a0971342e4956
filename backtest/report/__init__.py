"""`backtest report`: a replay's (or sweep's) results folder as one offline HTML page and a
Markdown summary for a governance forum post. See docs/reports.md."""

from backtest.report.build import write_report

__all__ = ["write_report"]
