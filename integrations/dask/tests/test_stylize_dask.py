"""stylize-dask against a single-process `stylize video`, on local Dask clusters (127.0.0.1).

Run from the repository after `swift build` and `pip install ./integrations/dask`:
    STYLIZE=$(swift build --show-bin-path)/stylize python3 -m unittest discover -s integrations/dask/tests -v
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

root = Path(__file__).resolve().parents[3]
stylize = os.environ.get("STYLIZE") or str(root / ".build" / "debug" / "stylize")
driver = [sys.executable, "-m", "stylize_dask"]
width, height = 160, 90


def tool(*arguments: str) -> str:
    done = subprocess.run(list(arguments), capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(arguments)}: {done.stderr}")
    return done.stdout


def frame_hashes(path: Path) -> list[str]:
    lines = tool("ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-").splitlines()
    return [line.split(",")[-1].strip() for line in lines if not line.startswith("#")]


def packets(path: Path, stream: str) -> list[str]:
    return tool("ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts,duration",
                "-of", "csv=p=0", str(path)).split()


def grey_frames(path: Path) -> list[bytes]:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    size = width * height
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def psnr(a: bytes, b: bytes) -> float:
    mse = sum((x - y) * (x - y) for x, y in zip(a, b)) / len(a)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def mean_difference(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


class StylizeDaskTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not Path(stylize).exists():
            raise unittest.SkipTest(f"no stylize binary at {stylize}: run swift build first, or set $STYLIZE")
        cls.dir = Path(tempfile.mkdtemp(prefix="stylize-dask-tests-"))
        cls.clip = cls.dir / "clip.mp4"
        # 300 frames (12 s at 25 fps) of real footage with its audio, a keyframe every second,
        # lossless so that keyframes do not show as jumps in the input itself.
        tool("ffmpeg", "-v", "error", "-stream_loop", "2", "-i", str(root / "SampleClips" / "bigbuckbunny.mp4"), "-t", "12",
             "-vf", f"scale={width}:{height}", "-c:v", "libx264", "-qp", "0", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", str(cls.clip))
        cls.lossless = ["--crf", "0", "--no-stabilize"]
        cls.single = cls.dir / "single.mp4"
        cls.run_stylize(["video", str(cls.clip), "-s", "starry-night", "-o", str(cls.single)] + cls.lossless)
        cls.single_stabilized = cls.dir / "single-stabilized.mp4"
        cls.run_stylize(["video", str(cls.clip), "-s", "starry-night", "-o", str(cls.single_stabilized), "--crf", "0"])
        cls.single_hashes = frame_hashes(cls.single)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", str(cls.dir)])

    @staticmethod
    def run_stylize(arguments: list[str]) -> None:
        tool(stylize, *arguments)

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="case-", dir=self.dir))

    def drive(self, output: Path, *options: str, passthrough: list[str] | None = None, **popen) -> subprocess.Popen:
        arguments = driver + ["video", str(self.clip), "-s", "starry-night", "-o", str(output), "--stylize", stylize, "--json",
                              *options, "--", *(passthrough if passthrough is not None else self.lossless)]
        return subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.work, **popen)

    def finish(self, process: subprocess.Popen) -> dict:
        out, err = process.communicate(timeout=600)
        self.assertEqual(process.returncode, 0, err)
        return json.loads(out)

    def assert_same_as_single(self, output: Path):
        """Frame for frame the single-process clip, with every timestamp and audio packet."""
        self.assertEqual(frame_hashes(output), self.single_hashes)
        self.assertEqual(len(self.single_hashes), 300)
        self.assertEqual(packets(output, "v:0")[0::2], packets(self.single, "v:0")[0::2], "video timestamps")
        self.assertEqual(packets(output, "a:0"), packets(self.single, "a:0"), "audio packets and their times")
        self.assertGreater(len(packets(output, "a:0")), 400)

    def test_segments_on_a_local_cluster_match_a_single_process(self):
        output = self.work / "out.mp4"
        summary = self.finish(self.drive(output, "--local-workers", "2", "--segments", "6"))
        self.assertEqual(summary["segments"], 6)
        self.assertEqual((summary["frames"], summary["reused"], summary["retried"]), (300, 0, 0))
        self.assert_same_as_single(output)
        self.assertEqual(list(self.work.iterdir()), [output], "pieces and work dir cleared after the join")

    def test_stabilized_segments_join_without_seams(self):
        output = self.work / "out.mp4"
        summary = self.finish(self.drive(output, "--local-workers", "2", "--segments", "6", "--keep-pieces",
                                         "--work-dir", str(self.work / "pieces"), passthrough=["--crf", "0"]))
        self.assertEqual(summary["segments"], 6)
        joined, single = grey_frames(output), grey_frames(self.single_stabilized)
        self.assertEqual(len(joined), 300)
        values = [psnr(a, b) for a, b in zip(joined, single)]
        self.assertGreaterEqual(min(values), 40, f"lowest PSNR {min(values):.1f} dB at frame {values.index(min(values))}")
        starts = sorted(int(p.name.split("-")[2]) for p in (self.work / "pieces").glob("piece-*.nut"))[1:]
        self.assertEqual(len(starts), 5)
        for first in starts:
            across = mean_difference(joined[first - 1], joined[first])
            neighbours = max(mean_difference(joined[first - 2], joined[first - 1]), mean_difference(joined[first], joined[first + 1]))
            self.assertLessEqual(across, neighbours * 1.5 + 0.5, f"a seam at frame {first}: {across:.2f} against {neighbours:.2f}")

    def test_a_worker_killed_mid_segment(self):
        from dask.distributed import LocalCluster
        import logging
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                          silence_logs=logging.CRITICAL) as cluster:
            output = self.work / "out.mp4"
            work = self.work / "pieces"
            process = self.drive(output, "--scheduler", cluster.scheduler_address, "--segments", "2", "--work-dir", str(work))
            killed = None
            deadline = time.time() + 120
            while killed is None and time.time() < deadline and process.poll() is None:
                for marker in (work / "attempts").glob("*") if (work / "attempts").exists() else []:
                    try:
                        killed = json.loads(marker.read_text())["pid"]
                    except (OSError, ValueError):
                        continue
                    os.kill(killed, signal.SIGKILL)
                    break
                time.sleep(0.01)
            self.assertIsNotNone(killed, "a segment started")
            summary = self.finish(process)
        self.assertGreaterEqual(summary["retried"], 1)
        self.assert_same_as_single(output)

    def test_a_killed_driver_resumes_with_finished_pieces(self):
        output = self.work / "out.mp4"
        work = self.work / "pieces"
        process = self.drive(output, "--local-workers", "1", "--segments", "6", "--work-dir", str(work), start_new_session=True)
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None and len(list(work.glob("piece-*.json"))) < 2:
            time.sleep(0.05)
        self.assertIsNone(process.poll(), "the driver was still running")
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        self.assertFalse(output.exists(), "nothing at the output after the kill")
        summary = self.finish(self.drive(output, "--local-workers", "1", "--segments", "6", "--work-dir", str(work)))
        self.assertGreater(summary["reused"], 0)
        self.assertEqual(summary["segments"], 6)
        self.assert_same_as_single(output)

    def assert_fails(self, arguments: list[str], message: str, output: Path):
        done = subprocess.run(driver + arguments, capture_output=True, text=True, cwd=self.work, timeout=120)
        self.assertNotEqual(done.returncode, 0)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertTrue(lines[0].startswith("stylize-dask: ") and message in lines[0], lines[0])
        self.assertFalse(output.exists())

    def test_bad_input(self):
        output = self.work / "out.mp4"
        text = self.work / "notes.mp4"
        text.write_text("not a clip")
        base = ["--stylize", stylize, "-s", "starry-night", "-o", str(output)]
        self.assert_fails(["video", str(text)] + base + ["--local-workers", "1"], "notes.mp4", output)
        self.assert_fails(["video", str(self.clip)] + base + ["--scheduler", "tcp://127.0.0.1:9"],
                          "cannot reach the Dask scheduler at tcp://127.0.0.1:9", output)
        self.assert_fails(["video", str(self.clip)] + base + ["--local-workers", "1", "--work-dir", str(text / "pieces")],
                          f"cannot use the work dir {text / 'pieces'}", output)
        self.assert_fails(["video", str(self.work / "missing.mp4")] + base, "missing.mp4: no such file", output)


if __name__ == "__main__":
    unittest.main()
