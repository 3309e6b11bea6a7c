"""How the student is trained on its targets: phase 1 (reconstruction), phase 2 (distillation), the check.

:class:`DistillationTraining` is the part of :class:`~vadbench_fastaed.model.FastAED`
(a mixin: it reads the model's ``settings``, ``name``, ``net``, ``teachers`` and
``history``) that runs the optional phase-1 pretraining of the encoder
(:meth:`~DistillationTraining._pretrain`), the phase-2 distillation with one
adversarial discriminator per teacher (:meth:`~DistillationTraining._distill`),
their shared shuffled batches, and the label-free fidelity check on held-out
training videos (:meth:`~DistillationTraining.validate`); :func:`to_input` is
the input scaling that training uses and the inference network folds in.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from vadbench.progress import progress

from .frames import stack_input
from .nets import FrameDecoder, MapDiscriminator

INPUT_SCALE = 1.0 / 128.0


def to_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 frames -> float training input ``x / 128``.

    The authors used ``(x - 127) / 128``; without the shift, the scaling folds
    exactly into the stem convolution of the inference network (zero padding
    stays zero), and the BatchNorm after the stem absorbs the mean.
    """
    return x.float() * INPUT_SCALE


class DistillationTraining:
    """The training loops of :class:`~vadbench_fastaed.model.FastAED` (its ``fit`` prepares their inputs)."""

    def validate(self, allf, idx3, targets: list[dict[str, np.ndarray]],
                 prefix: str = "val") -> dict[str, list[float]]:
        """Fidelity to the teachers on the clips ``idx3`` (training videos only, no label).

        ``<prefix>_mse``: the distillation MSE; ``<prefix>_spearman``: rank
        correlation of the student's frame score with the mean of the teachers'
        frame scores (the maximum of their finest maps, in training units).
        """
        from scipy.stats import spearmanr

        self._infer = None
        preds: dict[str, list[np.ndarray]] = {}
        frame = []
        with torch.inference_mode():
            for s in range(0, len(idx3), 256):
                x = torch.from_numpy(stack_input(allf, idx3[s:s + 256]))
                out = self.maps(x)
                frame.append(self.frame_scores(out).cpu().numpy())
                for k, v in out.items():
                    preds.setdefault(k, []).append(v.cpu().numpy())
        pred = {k: np.concatenate(v) for k, v in preds.items()}
        mse = float(np.mean([np.mean([np.mean((pred[k] - t[k]) ** 2) for k in pred]) for t in targets]))
        rho = float(spearmanr(np.concatenate(frame), self.teacher_frame(targets))[0])
        self._infer = None
        return {f"{prefix}_mse": [mse], f"{prefix}_spearman": [rho], f"{prefix}_samples": [float(len(idx3))]}

    def _batches(self, n: int, g: torch.Generator):
        bs = int(self.settings.distill.batch_size)
        perm = torch.randperm(n, generator=g).numpy()
        for s in range(0, n, bs):
            b = perm[s:s + bs]
            if len(b) >= 2 or n < 2:  # BatchNorm needs two samples
                yield b

    def _input(self, allf: np.ndarray, idx3: np.ndarray) -> torch.Tensor:
        return to_input(torch.from_numpy(stack_input(allf, idx3)))

    def _pretrain(self, allf, idx3, g, say) -> None:
        c = self.settings.distill
        net = self.net
        dec = FrameDecoder([*net.encoder.channels[:-1], net.dim], 3 if self.color else 1)
        params = list(net.encoder.parameters()) + list(net.blocks.parameters()) + list(dec.parameters())
        opt = torch.optim.Adam(params, lr=c.pretrain_lr, weight_decay=5e-6)
        net.train()
        dec.train()
        centre = slice(3, 6) if self.color else slice(1, 2)
        for epoch in progress(range(int(c.pretrain_epochs)), desc=f"{self.name}: phase 1", unit="epoch"):
            total, count, t0 = 0.0, 0, time.perf_counter()
            for b in self._batches(len(idx3), g):
                x = self._input(allf, idx3[b])
                feats, z = net.features(x)
                sizes = [tuple(f.shape[-2:]) for f in feats]
                rec = dec(z, sizes)
                target = F.adaptive_avg_pool2d(x[:, centre], rec.shape[-2:])
                loss = F.mse_loss(rec, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
                count += len(b)
            self.history["pretrain_loss"].append(total / max(count, 1))
            say(f"{self.name}: phase 1 epoch {epoch + 1}: reconstruction MSE {total / max(count, 1):.4f} "
                f"({time.perf_counter() - t0:.1f} s)")

    def _distill(self, allf, idx3, targets: list[dict[str, torch.Tensor]], g, seed, say) -> None:
        from timm.optim import create_optimizer_v2
        from timm.scheduler import create_scheduler_v2

        c = self.settings.distill
        net = self.net
        lam = float(c.lam)
        epochs = int(c.epochs)
        opt = create_optimizer_v2(net, opt=c.opt, lr=c.lr, weight_decay=c.weight_decay)
        sched, _ = create_scheduler_v2(opt, sched=c.sched, num_epochs=epochs,
                                       warmup_epochs=min(int(c.warmup_epochs), max(epochs - 1, 0)),
                                       warmup_lr=c.lr * 0.1, min_lr=c.lr * 0.01,
                                       decay_epochs=c.decay_epochs, decay_rate=c.decay_rate)
        discs, dopts = [], []
        if lam > 0:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 1)
                for _ in self.teachers:
                    d = MapDiscriminator(self.scales)
                    discs.append(d)
                    dopts.append(torch.optim.Adam(d.parameters(), lr=c.d_lr, weight_decay=5e-6))
        bce = F.binary_cross_entropy_with_logits
        weights = self.teacher_weights
        for epoch in progress(range(epochs), desc=f"{self.name}: distillation", unit="epoch"):
            net.train()
            sums = {"kd": 0.0, "adv": 0.0, "d": 0.0}
            count, t0 = 0, time.perf_counter()
            for b in self._batches(len(idx3), g):
                x = self._input(allf, idx3[b])
                bt = torch.from_numpy(b)
                tgt = [{k: v[bt] for k, v in t.items()} for t in targets]
                out = net(x)
                kd = sum(w * sum(F.mse_loss(out[k], t[k]) for k in out)
                         for w, t in zip(weights, tgt, strict=True))
                loss = kd
                if lam > 0:
                    fake = {k: v.detach() for k, v in out.items()}  # student maps detached for D
                    dl_total = 0.0
                    for d, dopt, t in zip(discs, dopts, tgt, strict=True):
                        for _ in range(int(c.d_steps)):
                            real_logit, fake_logit = d(t), d(fake)
                            dl = bce(real_logit, torch.ones_like(real_logit)) + \
                                bce(fake_logit, torch.zeros_like(fake_logit))
                            dopt.zero_grad(set_to_none=True)
                            dl.backward()
                            dopt.step()
                        dl_total += float(dl.detach())
                    adv = 0.0
                    for d in discs:
                        for p in d.parameters():
                            p.requires_grad_(False)
                        logit = d(out)
                        adv = adv + bce(logit, torch.ones_like(logit))  # non-saturating generator loss
                        for p in d.parameters():
                            p.requires_grad_(True)
                    loss = kd + lam * adv
                    sums["adv"] += float(adv.detach()) * len(b)
                    sums["d"] += dl_total * len(b)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums["kd"] += float(kd.detach()) * len(b)
                count += len(b)
            sched.step(epoch + 1)
            secs = time.perf_counter() - t0
            for key, name in (("kd", "kd_loss"), ("adv", "adv_loss"), ("d", "d_loss")):
                self.history[name].append(sums[key] / max(count, 1))
            self.history["epoch_seconds"].append(secs)
            say(f"{self.name}: epoch {epoch + 1}/{epochs}: KD {self.history['kd_loss'][-1]:.4f} "
                f"adv {self.history['adv_loss'][-1]:.4f} D {self.history['d_loss'][-1]:.4f} ({secs:.1f} s)")


__all__ = ["INPUT_SCALE", "DistillationTraining", "to_input"]
