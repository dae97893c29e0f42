#!/usr/bin/python3
"""torchaudio's side of bench_features: the same clips, the same features, timed here.

    /usr/bin/python3 features_torchaudio.py CLIPS.f32 CLIP_SAMPLES REPEAT

Prints one line per (feature, threads): "torchaudio <feature> <threads> <best seconds>".
"""
import os
import sys
import time

import numpy as np
import torch
import torchaudio.transforms as T

path, clip, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clips = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(-1, clip))

melkwargs = dict(n_fft=512, win_length=400, hop_length=160, n_mels=40)
logmel = T.MelSpectrogram(sample_rate=16000, **melkwargs)
mfcc = T.MFCC(sample_rate=16000, n_mfcc=40, melkwargs=melkwargs)
features = {
    "logmel": lambda x: torch.log(logmel(x) + 1e-6),
    "mfcc": mfcc,
}

with torch.no_grad():
    for threads in (1, os.cpu_count()):
        torch.set_num_threads(threads)
        for name, f in features.items():
            f(clips[:4])  # warm-up
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                f(clips)  # one batch: torchaudio's fastest way through many clips
                best = min(best, time.perf_counter() - start)
            print(f"torchaudio {name} {threads} {best:.6f}", flush=True)
