"""Run `stylize video` on a Dask cluster: see `stylize_dask.cli`."""
from .cli import main, plan_segments

__all__ = ["main", "plan_segments"]
