"""stylize-dask: `stylize video` on a Dask cluster.

The clip is cut at keyframes into segments; each segment is one Dask task that runs
`stylize video IN --frames A..B` on a worker and writes a piece into the work dir; the pieces
are then joined with `stylize join`, without re-encoding, with the source's audio, subtitles,
metadata and rotation. Finished pieces are kept, with a manifest that records the hash of the
options that made them, so a rerun of the same command redoes only what is missing. A segment
whose worker dies is run again elsewhere (Dask reschedules it; a failed run is retried twice).

    stylize-dask video IN -s STYLE -o OUT [--segments N | --segment-seconds S]
                 [--scheduler tcp://HOST:PORT | --local-workers N] [--work-dir DIR] [--json]
                 [-- options passed to stylize video]

Input, work dir and output must be on storage every worker reads and writes at the same path,
and every worker needs the stylize binary (at the same path, --stylize) and the models.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path


class Failure(Exception):
    """A problem to report in one line."""


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _die_with_parent() -> None:
    # A worker killed with SIGKILL takes its stylize process with it, rather than leaving it
    # to finish a piece that Dask has already given to another worker.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_stylize(stylize: str, arguments: list[str]) -> str:
    """Runs stylize to completion; its one-line error becomes a Failure."""
    done = subprocess.run([stylize] + arguments, capture_output=True, text=True, preexec_fn=_die_with_parent)
    if done.returncode != 0:
        raise Failure(last_line(done.stderr).removeprefix("stylize: "))
    return done.stdout


def write_json(path: Path, value) -> None:
    """Atomically, so that a killed run never leaves half a manifest."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, sort_keys=True))
    os.replace(temporary, path)


def plan_segments(layout: dict, segments: int | None, segment_seconds: float | None) -> list[tuple[int, int]]:
    """Frame ranges [A, B) covering the clip, cut at the keyframe nearest each even split (or
    at the split itself when no keyframe lies within a quarter of a segment of it)."""
    frames = layout["frames"]
    if segment_seconds:
        count = max(1, round(layout["seconds"] / segment_seconds))
    else:
        count = segments or 1
    count = max(1, min(count, frames))
    keyframes = sorted(set(layout["keyframes"]))
    length = frames / count
    cuts = set()
    for i in range(1, count):
        target = round(i * length)
        nearest = min(keyframes, key=lambda k: abs(k - target)) if keyframes else target
        cut = nearest if abs(nearest - target) <= length / 4 else target
        if 0 < cut < frames:
            cuts.add(cut)
    bounds = [0] + sorted(cuts) + [frames]
    return list(zip(bounds[:-1], bounds[1:]))


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_segment(stylize: str, clip: str, piece: str, manifest: str, attempts: str, first: int, end: int,
                arguments: list[str], options_hash: str) -> dict:
    """One Dask task: stylizes frames [first, end) into `piece`, checks the piece's frame
    count and records its manifest. Runs on a worker."""
    started = time.time()
    marker = Path(attempts) / f"{first}-{end}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    marker.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": started}))
    run_stylize(stylize, ["video", clip, "-o", piece, "--frames", f"{first}..{end}", "--overwrite", "--quiet"] + arguments)
    frames = json.loads(run_stylize(stylize, ["probe", piece]))["frames"]
    if frames != end - first:
        raise Failure(f"piece {piece} holds {frames} frames, not {end - first}")
    write_json(Path(manifest), {"frames": [first, end], "options": options_hash, "verified_frames": frames})
    return {"first": first, "end": end, "seconds": time.time() - started, "host": socket.gethostname()}


def piece_is_done(piece: Path, manifest: Path, first: int, end: int, options_hash: str, stylize: str) -> bool:
    """A piece from an earlier run is reused when its manifest matches and it still holds
    exactly its frames."""
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if recorded.get("options") != options_hash or recorded.get("frames") != [first, end] or not piece.exists():
        return False
    try:
        return json.loads(run_stylize(stylize, ["probe", str(piece)]))["frames"] == end - first
    except (Failure, ValueError, KeyError):
        return False


def progress_line(done: int, total: int, frames: int, all_frames: int, started: float) -> str:
    elapsed = time.time() - started
    fps = frames / elapsed if elapsed > 0 else 0
    eta = (all_frames - frames) / fps if fps > 0 else 0
    return (f"stylize-dask: segments {done}/{total}, frames {frames}/{all_frames}, {fps:.1f} fps, "
            f"ETA {int(eta) // 60}:{int(eta) % 60:02d}")


def parse(argv: list[str]):
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(prog="stylize-dask", description="Run stylize video on a Dask cluster, in pieces.")
    commands = parser.add_subparsers(dest="command", required=True)
    video = commands.add_parser("video", help="stylize a clip in segments on a Dask cluster")
    video.add_argument("input", help="the clip (on storage every worker can read)")
    video.add_argument("-s", "--style", help="the style, as stylize takes it (computed once into a vector file)")
    video.add_argument("-o", "--output", required=True, help="where to write the clip")
    split = video.add_mutually_exclusive_group()
    split.add_argument("--segments", type=int, help="number of segments (default: 4 per worker)")
    split.add_argument("--segment-seconds", type=float, help="length of a segment in seconds")
    where = video.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    where.add_argument("--local-workers", type=int, help="start a local cluster of this many worker processes on 127.0.0.1")
    video.add_argument("--work-dir", help="where pieces and manifests go (default: .OUTPUT.pieces beside the output)")
    video.add_argument("--stylize", default=os.environ.get("STYLIZE") or shutil.which("stylize"),
                       help="the stylize binary, at the same path on every worker (default: $STYLIZE, then PATH)")
    video.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    video.add_argument("--keep-pieces", action="store_true", help="keep the pieces after joining")
    video.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = video.parse_args(argv[1:]) if argv and argv[0] == "video" else parser.parse_args(argv)
    args.passthrough = passthrough
    return args


def style_arguments(args, work: Path, stylize: str) -> tuple[list[str], list[str]]:
    """The style and identity vectors, computed once here so that every piece gets the same
    ones, as files in the work dir; returns (arguments for every piece, files they depend on)."""
    passthrough = list(args.passthrough)
    keyed = any(a in ("--keyframe", "--keyframes") or a.startswith(("--keyframe=", "--keyframes=")) for a in passthrough)
    if args.style is None and not keyed:
        raise Failure("give a style with -s STYLE (or keyframes after --)")
    pieces_args: list[str] = []
    files: list[str] = []
    models = [a for i, a in enumerate(passthrough) if a == "--models" or (i > 0 and passthrough[i - 1] == "--models")]
    if args.style is not None:
        sizing = [a for i, a in enumerate(passthrough) if a == "--style-size" or (i > 0 and passthrough[i - 1] == "--style-size")]
        vector = work / "style.json"
        run_stylize(stylize, ["vector", args.style, "-o", str(vector), "--overwrite"] + sizing + models)
        pieces_args += ["-s", str(vector)]
        files.append(str(vector))
    if keyed or "--strength" in passthrough or any(a.startswith("--strength=") for a in passthrough):
        identity = work / "identity.json"
        run_stylize(stylize, ["vector", str(Path(args.input).resolve()), "--clip", "-o", str(identity), "--overwrite"] + models)
        pieces_args += ["--identity", str(identity)]
        files.append(str(identity))
    if Path(args.output).suffix.lower() == ".webm" and "--codec" not in passthrough:
        pieces_args += ["--codec", "libvpx-vp9"]
    return pieces_args + passthrough, files


def run(args) -> dict:
    started = time.time()
    stylize = args.stylize
    if not stylize or not Path(stylize).exists():
        raise Failure("no stylize binary: put it on PATH, set $STYLIZE or pass --stylize")
    stylize = str(Path(stylize).resolve())
    clip = Path(args.input)
    if not clip.exists():
        raise Failure(f"{args.input}: no such file")
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise Failure(f"{args.output} already exists: pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise Failure(f"cannot write {args.output}: no such directory {output.parent}")
    if args.segments is not None and args.segments < 1:
        raise Failure("--segments must be at least 1")
    if args.segment_seconds is not None and not args.segment_seconds > 0:
        raise Failure("--segment-seconds must be positive")
    if args.local_workers is not None and args.local_workers < 1:
        raise Failure("--local-workers must be at least 1")
    # Every frame's timestamp, once: pieces find their frames in it instead of each scanning
    # the file's packets up to its own.
    layout_text = run_stylize(stylize, ["probe", str(clip), "--timestamps"])
    layout = json.loads(layout_text)
    if layout["frames"] == 0:
        raise Failure(f"{args.input}: no video frames")

    # Absolute: the workers run elsewhere, in other folders.
    work = (Path(args.work_dir) if args.work_dir else output.parent / f".{output.name}.pieces").absolute()
    try:
        work.mkdir(parents=True, exist_ok=True)
        (work / "attempts").mkdir(exist_ok=True)
        probe_file = work / f".write-test.{os.getpid()}"
        probe_file.write_text("")
        probe_file.unlink()
    except OSError as error:
        raise Failure(f"cannot use the work dir {work}: {error.strerror or error}") from None

    layout_file = work / "layout.json"
    layout_file.write_text(layout_text)
    piece_args, inputs = style_arguments(args, work, stylize)
    stat = clip.stat()
    options_hash = hashlib.sha256(json.dumps({
        "clip": str(clip.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
        "arguments": [a for a in piece_args if a not in inputs],
        "inputs": [file_digest(Path(f)) for f in inputs],
        "stylize": file_digest(Path(stylize)),
    }, sort_keys=True).encode()).hexdigest()[:16]

    # Markers of this job's earlier runs would be counted as retries.
    for old in (work / "attempts").glob("*"):
        old.unlink()

    from dask.distributed import Client, LocalCluster, as_completed

    # Dask's own log lines (connection retries, worker restarts) would bury the one-line
    # report; what matters reaches the user through the progress lines and errors.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)

    cluster = None
    try:
        if args.scheduler:
            try:
                client = Client(args.scheduler, timeout="5s")
            except (OSError, TimeoutError) as error:
                raise Failure(f"cannot reach the Dask scheduler at {args.scheduler}: {error}") from None
        else:
            cluster = LocalCluster(n_workers=args.local_workers or 1, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        plan = plan_segments(layout, args.segments or (None if args.segment_seconds else 4 * workers), args.segment_seconds)

        pieces = []
        futures = []
        reused = frames_done = 0
        for first, end in plan:
            piece = work / f"piece-{options_hash}-{first:08d}-{end:08d}.nut"
            manifest = piece.with_suffix(".json")
            pieces.append(str(piece))
            if piece_is_done(piece, manifest, first, end, options_hash, stylize):
                reused += 1
                frames_done += end - first
                continue
            futures.append(client.submit(run_segment, stylize, str(clip.resolve()), str(piece), str(manifest), str(work / "attempts"),
                                         first, end, piece_args + ["--layout", str(layout_file)], options_hash, retries=2, pure=False,
                                         key=f"stylize-{options_hash}-{first}-{end}"))
        done = reused
        counted = frames_done
        print(f"stylize-dask: {len(plan)} segments of {layout['frames']} frames on {workers} workers"
              + (f", {reused} reused from an earlier run" if reused else ""), file=sys.stderr)
        started_work = time.time()
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - a worker's failure, reported in one line
                message = str(error) or type(error).__name__
                raise Failure(f"a segment failed: {last_line(message)}") from None
            done += 1
            counted += result["end"] - result["first"]
            print(progress_line(done, len(plan), counted - frames_done, layout["frames"] - frames_done, started_work),
                  file=sys.stderr)
        client.close()
    finally:
        if cluster is not None:
            cluster.close()

    per_segment: dict[str, int] = {}
    for marker in (work / "attempts").glob("*"):
        key = marker.name.split(".")[0]
        per_segment[key] = per_segment.get(key, 0) + 1
    retried = sum(count - 1 for count in per_segment.values())

    join = ["join"] + pieces + ["-o", str(output), "--audio-from", str(clip)] + (["--overwrite"] if args.overwrite else [])
    run_stylize(stylize, join)
    if not args.keep_pieces:
        for piece in pieces:
            Path(piece).unlink(missing_ok=True)
            Path(piece).with_suffix(".json").unlink(missing_ok=True)
        shutil.rmtree(work / "attempts", ignore_errors=True)
        for name in ("style.json", "identity.json", "layout.json"):
            (work / name).unlink(missing_ok=True)
        try:
            work.rmdir()
        except OSError:
            pass
    seconds = time.time() - started
    return {"output": str(output), "segments": len(plan), "reused": reused, "retried": retried,
            "frames": layout["frames"], "seconds": round(seconds, 3), "fps": round(layout["frames"] / seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse(argv)
        summary = run(args)
    except Failure as failure:
        print(f"stylize-dask: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stylize-dask: interrupted; finished pieces are kept for a rerun", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"stylize-dask: wrote {summary['output']}: {summary['frames']} frames in {summary['segments']} segments, "
              f"{summary['seconds']:.1f} s ({summary['fps']} fps)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
