"""Lightning's CSV logger, made to keep a resumed run's earlier rows.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it opens its folder, so a
run resumed into its own output dir would lose the log of every step before the resume.
"""

import csv

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment


class AppendingExperimentWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv``, taking its columns as the known keys."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = list(csv.DictReader(file).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` grows across resumes of the same run.

    Rows logged after the checkpoint a run resumed from, by the attempt that was killed,
    stay in the file; a step's last row is the one of the run that went on.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> AppendingExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment
