"""`vadbench watch` on a short synthetic video: a playable annotated video and one CSV row per frame."""

from __future__ import annotations

import csv

import cv2

from vadbench.cli import main
from vadbench.contract import tiny_dataset


def test_watch_writes_csv_and_playable_video(tmp_path):
    dataset = tiny_dataset(tmp_path)
    video = dataset.test[0]
    src = tmp_path / "clip.avi"
    frames = video.read()
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()

    out = tmp_path / "watch"
    assert main(["watch", str(src), "--model", "motion-diff", "--results", str(tmp_path / "res"),
                 "--out", str(out), "--chunk", "10"]) == 0
    rows = list(csv.DictReader((out / "clip_scores.csv").open()))
    assert [int(r["frame"]) for r in rows] == list(range(len(frames)))
    assert {r["alert"] for r in rows} <= {"0", "1"}

    cap = cv2.VideoCapture(str(out / "clip_annotated.avi"))
    count = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape[1] == w and img.shape[0] > h  # frame plus the score strip
        count += 1
    assert count == len(frames)
