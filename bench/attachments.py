"""Attachments benchmark: what attaching costs a turn, against the same text typed in.

In one temporary profile, for a folder of N source files (~4 KB each):
- reading: `gather` (resolve, stat, bounded read, classify) of the folder;
- storing: `add_message` of a question with the N files attached, against a baseline
  `add_message` of one message holding the same text inline;
- replaying: `backend_messages` of a session of M such questions (every file read back from
  the profile's blobs and fenced) against a session of M inline messages.
Medians (min–max) of --reps runs each; the ratios compare with the baseline measured in the
same run. Not a pass/fail test.

    .venv/bin/python bench/attachments.py [--files 20] [--messages 50] [--reps 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.attachments import gather  # noqa: E402 - after the path insert above
from app.attachments.prompt import model_text  # noqa: E402
from app.service.turns import backend_messages  # noqa: E402
from app.settings import AttachmentSettings  # noqa: E402
from bench.timing import timed  # noqa: E402
from storage import AttachmentBlob, Store  # noqa: E402


def shown(label: str, times: list[float], baseline: list[float] | None = None) -> str:
    med = statistics.median(times) * 1000
    line = f"{label:<44} {med:8.2f} ms  ({min(times) * 1000:.2f}–{max(times) * 1000:.2f})"
    if baseline is not None:
        line += f"  ×{statistics.median(times) / statistics.median(baseline):.2f} baseline"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "src"
        folder.mkdir()
        for index in range(args.files):
            body = "".join(f"def f{index}_{n}(x):\n    return x * {n}\n" for n in range(130))
            (folder / f"mod{index}.py").write_text(body)
        limits = AttachmentSettings(max_files=10_000, max_total_bytes=1 << 30)
        files = gather([str(folder)], limits)
        inline = model_text("What do these do?", files)
        blobs = [AttachmentBlob(a.name, a.media_type, a.data) for a in files]
        total = sum(a.size for a in files)
        print(f"{args.files} files, {total / 1000:.0f} KB; {args.messages} messages a session")
        with Store.open(Path(tmp) / "p.db") as store:
            plain = store.create_session()
            attached = store.create_session()
            read = timed(lambda: gather([str(folder)], limits), args.reps)
            base_store = timed(lambda: store.add_message(plain.id, "user", inline), args.reps)
            with_store = timed(lambda: store.add_message(attached.id, "user", "What do these do?",
                                                         attachments=blobs), args.reps)
            for _ in range(args.messages - args.reps):
                store.add_message(plain.id, "user", inline)
                store.add_message(attached.id, "user", "What do these do?", attachments=blobs)
            one, two = store.get_session(plain.id), store.get_session(attached.id)
            history_plain = store.get_messages(plain.id)
            history_attached = store.get_messages(attached.id)
            base_replay = timed(lambda: backend_messages(one, history_plain), args.reps)
            replay = timed(lambda: backend_messages(two, history_attached,
                                                    store.attachment_data), args.reps)
            usage = store.attachment_usage()
        print(shown("read + classify the folder (gather)", read))
        print(shown("store: inline text (baseline)", base_store))
        print(shown("store: question + attachments", with_store, base_store))
        print(shown("replay history: inline text (baseline)", base_replay))
        print(shown("replay history: attachments from blobs", replay, base_replay))
        print(f"profile blobs: {usage.blobs} ({usage.bytes / 1000:.0f} KB) for "
              f"{args.messages} messages attaching the same {args.files} files")


if __name__ == "__main__":
    main()
