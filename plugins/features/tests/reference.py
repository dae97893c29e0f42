#!/usr/bin/python3
"""Writes the reference outputs the feature tests compare with: torchaudio 0.13 on real speech
(espeak-ng, resampled by sox) and on synthetic signals.

    /usr/bin/python3 reference.py OUT_DIR

OUT_DIR receives one raw little-endian f32 file per signal and per case (named relative to it),
and manifest.json:
{"signals": {name: {"file", "samples", "channels", "sample_rate"}},
 "cases": [{"id", "node", "signal", "params", "file", "shape"}]}. "params" are the node's own
parameters (torchaudio's names); this script maps them to the torchaudio call.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.signal
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as F
import torchaudio.transforms as T

RATE = 16000
# A stationary gate's bins within this many dB of their threshold count as either side.
NEAR_THRESHOLD_DB = 0.01


def speech(out_dir):
    """Two seconds of words spoken by espeak-ng, 16 kHz mono, as torchaudio loads them."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        wav = os.path.join(tmp, "speech.wav")
        words = "yes no up down left right on off stop go"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "170", "-w", raw, words], check=True)
        subprocess.run(["sox", raw, "-r", str(RATE), "-c", "1", "-b", "16", wav], check=True)
        waveform, rate = torchaudio.load(wav)
    assert rate == RATE
    return waveform[0].numpy().astype(np.float32)


def signals():
    rng = np.random.default_rng(7)
    t = np.arange(RATE, dtype=np.float64) / RATE
    chirp = 0.5 * np.sin(2 * math.pi * (100 * t + 0.5 * 3900 * t * t))
    tone = 0.3 * np.sin(2 * math.pi * 440.0 * np.arange(12345) / RATE)
    noise = rng.uniform(-0.5, 0.5, RATE)
    stereo = np.stack([chirp[:8000], noise[:8000]], axis=1)
    lead = np.zeros(RATE // 2, dtype=np.float64)
    clean = np.concatenate([lead, speech_signal.astype(np.float64)])
    noisy = clean + 0.02 * rng.standard_normal(clean.shape[0])
    return {
        "speech": speech_signal,
        "noisy_speech": noisy.astype(np.float32),
        "chirp": (chirp + 0.01 * rng.standard_normal(RATE)).astype(np.float32),
        "tone": tone.astype(np.float32),
        "noise": noise.astype(np.float32),
        "stereo": stereo.astype(np.float32),
    }


def window_fn(name):
    return {
        "hann": torch.hann_window,
        "hamming": torch.hamming_window,
        "rectangular": lambda n: torch.ones(n),
        "povey": lambda n: torch.hann_window(n, periodic=False).pow(0.85),
    }[name]


def spectrogram_kwargs(p):
    n_fft = p.get("n_fft", 400)
    win = p.get("win_length", n_fft)
    return dict(
        n_fft=n_fft,
        win_length=win,
        hop_length=p.get("hop_length", win // 2),
        window_fn=window_fn(p.get("window", "hann")),
        center=p.get("center", True),
        pad_mode=p.get("pad_mode", "reflect"),
        power=p.get("power", 2.0),
        normalized=p.get("normalized", False),
    )


def mel_kwargs(p):
    kw = spectrogram_kwargs(p)
    kw.update(
        sample_rate=RATE,
        n_mels=p.get("n_mels", 128),
        f_min=p.get("f_min", 0.0),
        f_max=p.get("f_max") or None,
        mel_scale=p.get("mel_scale", "htk"),
        norm=None if p.get("norm", "none") == "none" else p["norm"],
    )
    return kw


def lifter(coefficients, lift, shift):
    """coefficients: (n_mfcc, time); librosa's lifter (shift 1) or Kaldi's (shift 0)."""
    if not lift:
        return coefficients
    i = torch.arange(coefficients.shape[0], dtype=torch.float64) + shift
    return coefficients * (1.0 + 0.5 * lift * torch.sin(math.pi * i / lift)).to(coefficients.dtype).unsqueeze(1)


def with_deltas(features, p):
    """features: (n, time) -> (time, n * (1 + deltas))."""
    parts = [features]
    for _ in range(p.get("deltas", 0)):
        parts.append(F.compute_deltas(parts[-1], win_length=p.get("delta_win_length", 5)))
    return torch.cat(parts, dim=0).T


STATISTICS = ["centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr", "rms"]


def spectral(p, x):
    """The spectral node's statistics: centroid from torchaudio.functional.spectral_centroid, the
    others in numpy from torchaudio's magnitude spectrogram (librosa's definitions of bandwidth,
    rolloff and flatness; positive flux; zcr and rms over the frames torch.stft cuts). Silent
    frames give 0 where torchaudio gives NaN."""
    kw = spectrogram_kwargs(dict(p, power=p.get("power", 1.0)))
    S = T.Spectrogram(**kw)(x)[0].double().numpy()  # (bins, frames)
    n_fft, hop = kw["n_fft"], kw["hop_length"]
    freqs = np.linspace(0, RATE // 2, 1 + n_fft // 2)[:, None]
    total = S.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    out = {}
    window = kw["window_fn"](kw["win_length"])
    centroid = F.spectral_centroid(x, RATE, 0, window, n_fft, hop, kw["win_length"])[0].double().numpy()
    out["centroid"] = np.nan_to_num(centroid, nan=0.0)
    c = (freqs * S).sum(axis=0) / safe
    bw_p = p.get("bandwidth_p", 2.0)
    out["bandwidth"] = ((S * np.abs(freqs - c) ** bw_p).sum(axis=0) / safe) ** (1.0 / bw_p)
    cumulative = np.cumsum(S, axis=0)
    reached = cumulative >= p.get("roll_percent", 0.85) * total
    out["rolloff"] = np.where(total > 0, freqs[np.argmax(reached, axis=0), 0], 0.0)
    power = np.maximum(1e-10, S ** 2)
    out["flatness"] = np.exp(np.log(power).mean(axis=0)) / power.mean(axis=0)
    rise = np.maximum(0.0, S[:, 1:] - S[:, :-1]).sum(axis=0)
    out["flux"] = np.concatenate([[0.0], rise])
    signal = x[0].double().numpy()
    if kw["center"]:
        signal = np.pad(signal, n_fft // 2, mode="reflect" if kw["pad_mode"] == "reflect" else "constant")
    frames = np.stack([signal[t * hop:t * hop + n_fft] for t in range(S.shape[1])])
    out["zcr"] = (np.signbit(frames[:, 1:]) != np.signbit(frames[:, :-1])).sum(axis=1) / n_fft
    out["rms"] = np.sqrt((frames ** 2).mean(axis=1))
    names = p.get("features", STATISTICS)
    return torch.from_numpy(np.stack([out[name] for name in names], axis=1))


def triangle(n):
    """noisereduce's smoothing kernel along one axis."""
    return np.concatenate([np.linspace(0, 1, n + 1, endpoint=False), np.linspace(1, 0, n + 2)])[1:-1]


def denoise(p, x):
    """Spectral gating as noisereduce does it, in numpy and torch: torch.stft, a per-bin mask
    (stationary: above mean + n_std std of a noise profile in dB; non-stationary: a sigmoid of the
    rise above a causal one-pole average), mixed with prop_decrease, smoothed by a triangular
    kernel with zeros beyond the edges, torch.istft."""
    n_fft = p.get("n_fft", 1024)
    hop = p.get("hop_length", n_fft // 4)
    stationary = p.get("stationary", True)
    n_std = p.get("n_std_thresh", 1.5 if stationary else 2.0)
    prop = p.get("prop_decrease", 1.0)
    window = torch.hann_window(n_fft)
    out = []
    allowances = []
    for channel in x:
        X = torch.stft(channel, n_fft, hop, window=window, center=True, pad_mode="reflect", return_complex=True)
        mag = X.abs().double().numpy()
        frames = mag.shape[1]
        if stationary:
            level = 20.0 * np.log10(np.maximum(mag, 1e-10))
            noise_ms = p.get("noise_ms", 0.0)
            profile = min(frames, math.ceil(noise_ms * RATE / 1000.0 / hop)) if noise_ms > 0 else frames
            noise_level = level[:, :profile]
            if p.get("noise_path"):
                noise, _ = torchaudio.load(p["noise_path"])
                N = torch.stft(noise[0], n_fft, hop, window=window, center=True, pad_mode="reflect",
                               return_complex=True)
                noise_level = 20.0 * np.log10(np.maximum(N.abs().double().numpy(), 1e-10))
            threshold = noise_level.mean(axis=1) + n_std * noise_level.std(axis=1)
            mask = (level > threshold[:, None]).astype(np.float64)
            # Bins this close to their threshold gate by rounding: another FFT, or this one on
            # another CPU, may put them on the other side.
            near = np.abs(level - threshold[:, None]) < NEAR_THRESHOLD_DB
        else:
            t = p.get("time_constant_s", 2.0) * RATE / hop
            b = (math.sqrt(1 + 4 * t * t) - 1) / (2 * t * t)
            average = scipy.signal.lfilter([b], [1, b - 1], mag, axis=1)
            rise = (mag - average) / np.maximum(average, 1e-10)
            mask = 1.0 / (1.0 + np.exp(-p.get("sigmoid_slope", 10.0) * (rise - n_std)))
            near = np.zeros(mask.shape, dtype=bool)
        n_freq = int(p.get("freq_mask_smooth_hz", 500.0) / (RATE / (n_fft / 2)))
        n_time = int(p.get("time_mask_smooth_ms", 50.0) / (hop / RATE * 1000.0))
        kernel = np.outer(triangle(n_freq), triangle(n_time))
        kernel = kernel / kernel.sum()

        def apply(m):
            smooth = scipy.signal.fftconvolve(m, kernel, mode="same")
            Y = X * torch.from_numpy(smooth).to(torch.complex64)
            return torch.istft(Y, n_fft, hop, window=window, center=True, length=channel.shape[0])

        out.append(apply(mask * prop + (1.0 - prop)))
        # What each near bin changes in the output if it gates the other way; the output is
        # linear in the mask, so any set of such flips moves a sample by at most the sum.
        allowance = torch.zeros(channel.shape[0], dtype=torch.float64)
        for f, t in zip(*np.nonzero(near)):
            flip = np.zeros(mask.shape)
            flip[f, t] = prop if mask[f, t] == 0.0 else -prop
            allowance += apply(flip).double().abs()
        allowances.append(allowance)
    y = torch.stack(out, dim=1)
    a = torch.stack(allowances, dim=1)
    return (y[:, 0], a[:, 0]) if y.shape[1] == 1 else (y, a)


def image_case(p, img):
    """img: (height, width, 3) uint8 RGB. torch's bilinear resize (align_corners=False) after the
    crop, ITU-R 601 grayscale, scale, mean and std, as the image node's parameters say."""
    x = torch.from_numpy(img).permute(2, 0, 1).float()
    if p.get("crop"):
        cx, cy, cw, ch = p["crop"]
        x = x[:, cy:cy + ch, cx:cx + cw]
    if p.get("width"):
        x = torch.nn.functional.interpolate(x[None], size=(p["height"], p["width"]), mode="bilinear",
                                            align_corners=False)[0]
    if p.get("grayscale"):
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
    x = x * p.get("scale", 1.0 / 255.0)
    if p.get("mean"):
        x = x - torch.tensor(p["mean"]).reshape(-1, 1, 1)
    if p.get("std"):
        x = x / torch.tensor(p["std"]).reshape(-1, 1, 1)
    if p.get("layout", "chw") == "hwc":
        x = x.permute(1, 2, 0)
    return x.contiguous().numpy().astype(np.float32)


IMAGE_CASES = [
    ("image_resize_down", {"width": 30, "height": 20}),
    ("image_crop_resize_up_norm", {"crop": [8, 4, 40, 32], "width": 70, "height": 45,
                                   "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}),
    ("image_gray_hwc", {"width": 17, "height": 23, "grayscale": True, "layout": "hwc"}),
]


def run_case(node, p, x):
    """x: (channels, samples) float32 tensor. Returns (time, bins) or (channels, time, bins), and
    what each value may differ by beyond rounding (None: nothing)."""
    allowance = None
    if node == "stft":
        y = T.Spectrogram(**spectrogram_kwargs(p))(x).transpose(-1, -2)
    elif node == "mel":
        kw = mel_kwargs(p)
        y = T.MelSpectrogram(**kw)(x)
        log = p.get("log", "none")
        if log == "natural":
            y = torch.log(y + p.get("log_offset", 1e-6))
        elif log == "db":
            stype = "power" if kw["power"] == 2.0 else "magnitude"
            y = T.AmplitudeToDB(stype=stype, top_db=p.get("top_db") or None)(y)
        y = y.transpose(-1, -2)
    elif node == "mfcc":
        convention = p.get("convention", "torchaudio")
        if convention == "kaldi":
            rate = RATE
            win = p.get("win_length", int(rate * 0.025))
            hop = p.get("hop_length", int(rate * 0.010))
            y = kaldi.mfcc(
                x[:1] * 32768.0,
                dither=0.0,
                sample_frequency=rate,
                frame_length=1000.0 * win / rate,
                frame_shift=1000.0 * hop / rate,
                num_ceps=p.get("n_mfcc", 13),
                num_mel_bins=p.get("n_mels", 23),
                low_freq=p.get("f_min", 20.0),
                high_freq=p.get("f_max", 0.0),
                cepstral_lifter=p.get("lifter", 22.0),
                use_energy=p.get("use_energy", True),
                preemphasis_coefficient=p.get("preemphasis", 0.97),
                remove_dc_offset=p.get("remove_dc_offset", True),
                energy_floor=p.get("energy_floor", 1.0),
                window_type=p.get("window", "povey"),
            )
            y = with_deltas(y.T, p)
        else:
            q = dict(p)
            if convention == "librosa":
                # librosa.feature.mfcc's defaults (librosa itself is not on the machine; its
                # melspectrogram, power_to_db and ortho DCT are these torchaudio calls).
                q.setdefault("n_fft", 2048)
                q.setdefault("hop_length", q.get("win_length", q["n_fft"]) // 4)
                q.setdefault("pad_mode", "constant")
                q.setdefault("mel_scale", "slaney")
                q.setdefault("norm", "slaney")
                q.setdefault("n_mfcc", 20)
            transform = T.MFCC(
                sample_rate=RATE, n_mfcc=q.get("n_mfcc", 40), log_mels=q.get("log_mels", False),
                melkwargs={k: v for k, v in mel_kwargs(q).items() if k != "sample_rate"})
            transform.amplitude_to_DB.top_db = q.get("top_db", 80.0) or None
            y = transform(x[0])
            y = lifter(y, q.get("lifter", 0.0), 1)
            y = with_deltas(y, q)
    elif node == "spectral":
        y = spectral(p, x)
    elif node == "denoise":
        y, allowance = denoise(p, x)
        allowance = allowance.contiguous().numpy().astype(np.float32)
    else:
        raise ValueError(node)
    if y.dim() == 3 and y.shape[0] == 1:
        y = y[0]
    return y.contiguous().numpy().astype(np.float32), allowance


CASES = [
    # stft: power and magnitude, windows, padding, shorter windows, odd n_fft, two channels.
    ("stft_default", "stft", "speech", {}),
    ("stft_512_power", "stft", "speech", {"n_fft": 512, "hop_length": 160}),
    ("stft_magnitude_win", "stft", "chirp", {"n_fft": 512, "win_length": 400, "hop_length": 160, "power": 1.0}),
    ("stft_hamming_constant", "stft", "noise", {"n_fft": 256, "window": "hamming", "pad_mode": "constant"}),
    ("stft_rect_nocenter", "stft", "tone", {"n_fft": 320, "hop_length": 100, "window": "rectangular",
                                             "center": False}),
    ("stft_povey_odd", "stft", "chirp", {"n_fft": 401, "win_length": 351, "window": "povey", "hop_length": 123}),
    ("stft_normalized", "stft", "speech", {"n_fft": 512, "hop_length": 256, "normalized": True}),
    ("stft_stereo", "stft", "stereo", {"n_fft": 256, "hop_length": 64}),
    # mel: both scales and norms, log and dB, top_db, win_length, power 1, f limits.
    ("mel_default", "mel", "speech", {}),
    ("mel_40_log", "mel", "speech", {"n_fft": 512, "hop_length": 160, "n_mels": 40, "log": "natural"}),
    ("mel_slaney_slaney_db", "mel", "speech", {"n_fft": 1024, "hop_length": 256, "n_mels": 80,
                                               "mel_scale": "slaney", "norm": "slaney", "log": "db"}),
    ("mel_htk_slaney_topdb", "mel", "chirp", {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 64,
                                              "norm": "slaney", "log": "db", "top_db": 80.0}),
    ("mel_slaney_none_power1", "mel", "noise", {"n_fft": 512, "hop_length": 128, "n_mels": 40,
                                                "mel_scale": "slaney", "power": 1.0}),
    ("mel_fmin_fmax", "mel", "speech", {"n_fft": 400, "hop_length": 160, "n_mels": 40, "f_min": 60.0,
                                        "f_max": 7600.0, "log": "natural"}),
    # spectral: every statistic on speech, noise and a chirp; a subset in another order.
    ("spectral_speech", "spectral", "speech", {"n_fft": 512, "hop_length": 160}),
    ("spectral_noise", "spectral", "noise", {}),
    ("spectral_chirp_subset", "spectral", "chirp", {"n_fft": 1024, "hop_length": 256, "roll_percent": 0.5,
                                                    "features": ["rms", "rolloff", "flux", "centroid"]}),
    # denoise: stationary from a noise lead-in or the whole clip, non-stationary, partial decrease.
    ("denoise_stationary_lead", "denoise", "noisy_speech", {"noise_ms": 400.0}),
    ("denoise_stationary_whole", "denoise", "noisy_speech", {"n_fft": 512, "prop_decrease": 0.8}),
    ("denoise_nonstationary", "denoise", "noisy_speech", {"stationary": False, "time_constant_s": 1.0}),
    ("denoise_noise_file", "denoise", "noisy_speech", {"noise_path": "NOISE_WAV"}),
    ("denoise_stereo", "denoise", "stereo", {"n_fft": 256, "noise_ms": 100.0, "freq_mask_smooth_hz": 200.0,
                                             "time_mask_smooth_ms": 20.0}),
    # mfcc: each convention, log mels, lifter, deltas.
    ("mfcc_torchaudio", "mfcc", "speech", {}),
    ("mfcc_torchaudio_40", "mfcc", "speech", {"n_fft": 512, "hop_length": 160, "n_mels": 40, "n_mfcc": 40}),
    ("mfcc_log_mels_lifter", "mfcc", "speech", {"n_fft": 512, "hop_length": 160, "n_mels": 40, "n_mfcc": 13,
                                                "log_mels": True, "lifter": 22.0}),
    ("mfcc_deltas", "mfcc", "speech", {"n_fft": 512, "hop_length": 160, "n_mels": 40, "n_mfcc": 13, "deltas": 2}),
    ("mfcc_chirp_slaney", "mfcc", "chirp", {"n_fft": 512, "hop_length": 160, "n_mels": 64, "n_mfcc": 20,
                                            "mel_scale": "slaney", "norm": "slaney", "top_db": 0.0}),
    ("mfcc_librosa", "mfcc", "speech", {"convention": "librosa"}),
    ("mfcc_kaldi", "mfcc", "speech", {"convention": "kaldi"}),
    ("mfcc_kaldi_no_energy", "mfcc", "speech", {"convention": "kaldi", "use_energy": False, "n_mels": 40,
                                                "n_mfcc": 20, "deltas": 1}),
    ("mfcc_kaldi_noise", "mfcc", "noise", {"convention": "kaldi", "window": "hamming"}),
]


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    global speech_signal
    speech_signal = speech(out_dir)
    manifest = {"torchaudio": torchaudio.__version__, "signals": {}, "cases": []}
    data = signals()
    for name, x in data.items():
        path = os.path.join(out_dir, name + ".f32")
        x.astype("<f4").tofile(path)
        channels = 1 if x.ndim == 1 else x.shape[1]
        manifest["signals"][name] = {"file": name + ".f32", "samples": int(x.shape[0]), "channels": channels,
                                     "sample_rate": RATE}
    # A recording of the noise alone, 16-bit, for denoise's noise_path.
    noise_wav = os.path.join(out_dir, "noise.wav")
    noise = np.random.default_rng(5).standard_normal(RATE) * 0.02
    torchaudio.save(noise_wav, torch.from_numpy(noise.astype(np.float32))[None], RATE, encoding="PCM_S",
                    bits_per_sample=16)
    for case_id, node, signal, params in CASES:
        call = params
        if params.get("noise_path") == "NOISE_WAV":
            # The manifest names it relative to OUT_DIR; the tests read it from there.
            call = dict(params, noise_path=noise_wav)
            params = dict(params, noise_path="noise.wav")
        x = torch.from_numpy(data[signal])
        x = x.unsqueeze(0) if x.dim() == 1 else x.T.contiguous()
        y, allowance = run_case(node, call, x)
        path = os.path.join(out_dir, case_id + ".f32")
        y.astype("<f4").tofile(path)
        entry = {"id": case_id, "node": node, "signal": signal, "params": params, "file": case_id + ".f32",
                 "shape": list(y.shape)}
        if allowance is not None:
            allowance.astype("<f4").tofile(os.path.join(out_dir, case_id + ".allowance.f32"))
            entry["allowance"] = case_id + ".allowance.f32"
        manifest["cases"].append(entry)
    # A 48 x 64 RGB frame: gradients and noise, so every interpolation weight matters.
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:48, 0:64]
    img = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=2) + rng.integers(0, 40, (48, 64, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    img.tofile(os.path.join(out_dir, "frame.u8"))
    manifest["images"] = {"frame": {"file": "frame.u8", "height": 48, "width": 64, "channels": 3}}
    for case_id, params in IMAGE_CASES:
        y = image_case(params, img)
        y.astype("<f4").tofile(os.path.join(out_dir, case_id + ".f32"))
        manifest["cases"].append({"id": case_id, "node": "image", "signal": "frame", "params": params,
                                  "file": case_id + ".f32", "shape": list(y.shape)})
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
