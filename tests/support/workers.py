"""Real RQ worker and scheduler processes (the Procfile's) for integration tests and benchmarks."""
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Processes:
    """Start, kill and stop the Procfile's worker and scheduler processes with a given environment."""

    def __init__(self, env, log_dir):
        self.env = {**os.environ, **env}
        self.log_dir = Path(log_dir)
        self.workers = []
        self.scheduler = None

    def start_worker(self, *args):
        log = open(self.log_dir / f"worker-{len(self.workers)}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "jobs.worker", *args], cwd=ROOT,
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers.append(process)
        return process

    def start_scheduler(self, interval=1):
        log = open(self.log_dir / "scheduler.log", "wb")
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "jobs.scheduler", "--interval", str(interval)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self.scheduler

    def kill(self, process, sig=signal.SIGKILL):
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self):
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                self.kill(process, signal.SIGTERM)

    def logs(self):
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.log_dir.glob("*.log")))
