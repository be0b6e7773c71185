#!/usr/bin/python3
"""Train a dynrt CIFAR-10 super-network by progressive shrinking (Once-for-All style).

    scripts/train --preset cpu [--resume] [--seed N] [--export-only]

Phases (per preset): first the largest network alone, then elastic phases trained with the
sandwich rule (largest + smallest + n random sub-networks per step) and in-place distillation
from the largest network. Checkpoints go to checkpoints/<preset>/ (atomic, every epoch and
every --ckpt-minutes), --resume continues exactly where the last checkpoint stopped. At the
end the model is exported to models/<name>.safetensors with a summary models/<name>.train.json.
"""
import argparse
import contextlib
import json
import math
import os
import random
import shutil
import sys
import time
import warnings

TUNABLES = ("glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296:"
            "glibc.malloc.top_pad=268435456:glibc.malloc.hugetlb=1")


def _reexec_with_tunables():
    # glibc reads its tunables only at process start: without them, training here is dominated
    # by page faults (large activation buffers returned to the kernel and re-faulted each step)
    if os.environ.get("GLIBC_TUNABLES") != TUNABLES and not os.environ.get("DYNRT_NO_REEXEC"):
        env = dict(os.environ, GLIBC_TUNABLES=TUNABLES)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


if __name__ == "__main__":
    _reexec_with_tunables()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynrt_ref.arch import cifar_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.data import REPO, load_split  # noqa: E402
from dynrt_ref.model import DynamicMBV3, count_macs  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt  # noqa: E402
from dynrt_ref.sort_channels import reorganize_middle_weights, reorganize_widths  # noqa: E402
from dynrt_ref.verify import EngineError, VerifyError, find_dynrt, verify_file  # noqa: E402

ALL = ("r", "w", "d", "k", "e")


# --- presets --------------------------------------------------------------------------------
def _phase(name, epochs, lr, elastic=(), n_random=0, kd=0.0, sort_expand=False, sort_width=False,
           warmup=0.15, label_smoothing=0.1):
    return dict(name=name, epochs=epochs, lr=lr, elastic=list(elastic), n_random=n_random, kd=kd,
                sort_expand=sort_expand, sort_width=sort_width, warmup=warmup,
                label_smoothing=label_smoothing)


def preset(name):
    if name == "cpu":
        # Reduced super-network for 2 CPU cores: stage 0 at 16x16 keeps the largest network at
        # ~37 MMAC (~190 train img/s here) so ~4 h buy 12 epochs of the largest network and
        # 16 sandwich epochs; the smallest is ~7.6 MMAC (4.9x fewer MACs).
        arch = cifar_arch("dynrt-cifar10-ofa-cpu", strides=(1, 2, 2, 2, 1, 2), depths=(2, 3))
        phases = [_phase("largest", 12, 0.15),
                  _phase("elastic", 16, 0.05, elastic=("r", "d", "k", "e"), n_random=2, kd=1.0,
                         sort_expand=True, warmup=0.05)]
        return dict(arch=arch, model_name="cifar10-ofa-cpu", batch=128, wd=2e-4, phases=phases)
    if name == "cpu-width":
        # Width-only baseline (slimmable / US-Nets style): depth 3, kernel 7, expand 6 and
        # resolution 32 fixed, so its largest network is exactly the cpu preset's largest
        # (37.3 MMAC) and w=0.35 (7.8 MMAC) matches the cpu preset's smallest (7.6 MMAC).
        # Phase 1 is then identical to the cpu preset's: --init-from its phase0_end.pt skips it.
        arch = cifar_arch("dynrt-cifar10-width-cpu", strides=(1, 2, 2, 2, 1, 2), depths=(3,),
                          kernel_sizes=(7,), expand_ratios=(6,), width_mults=(0.35, 0.5, 0.75, 1.0),
                          resolutions=(32,))
        phases = [_phase("largest", 12, 0.15),
                  _phase("elastic", 16, 0.05, elastic=("w",), n_random=2, kd=1.0, sort_expand=True,
                         sort_width=True, warmup=0.05)]
        return dict(arch=arch, model_name="cifar10-width-cpu", batch=128, wd=2e-4, phases=phases)
    if name == "full":
        # Full CIFAR OFA super-network (stage 0 at 32x32, depths 2..4) for a datacenter GPU.
        arch = cifar_arch("dynrt-cifar10-ofa-full", strides=(1, 1, 2, 2, 1, 2), depths=(2, 3, 4))
        phases = [_phase("largest", 25, 0.4),
                  _phase("elastic", 20, 0.12, elastic=("r", "d", "k", "e"), n_random=2, kd=1.0,
                         sort_expand=True, warmup=0.05)]
        return dict(arch=arch, model_name="cifar10-ofa-full", batch=256, wd=2e-4, phases=phases)
    if name == "smoke":
        # seconds-long run used by tests: same code paths, tiny network, a few steps
        arch = cifar_arch("dynrt-cifar10-smoke", widths=(8, 8, 8, 16, 16, 24, 24),
                          strides=(1, 2, 2, 2, 1, 2), depths=(1, 2), head=(32, 48),
                          resolutions=(24, 32))
        phases = [_phase("largest", 1, 0.1),
                  _phase("elastic", 1, 0.05, elastic=ALL, n_random=1, kd=1.0, sort_expand=True,
                         sort_width=True)]
        return dict(arch=arch, model_name="cifar10-smoke", batch=64, wd=2e-4, phases=phases,
                    max_train=1024, max_eval=512)
    raise SystemExit("train: unknown preset %r (cpu, cpu-width, full, smoke)" % name)


# --- data -----------------------------------------------------------------------------------
class Data:
    """Whole splits as uint8 NHWC tensors on the training device; batches are gathered,
    augmented and normalised there (no worker processes: they would compete for 2 cores)."""

    def __init__(self, arch, device, pack=None, max_train=None, max_eval=None):
        self.device = device
        xs = {}
        for split in ("train", "val", "test"):
            x, y = load_split(split, pack)
            lim = max_train if split == "train" else max_eval
            if lim:
                x, y = x[:lim], y[:lim]
            xs[split] = (torch.from_numpy(x).to(device), torch.from_numpy(y.astype(np.int64)).to(device))
        self.splits = xs
        inp = arch["input"]
        self.mean = torch.tensor(inp["mean"], device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(inp["std"], device=device).view(1, 3, 1, 1) * 255

    def n(self, split):
        return self.splits[split][0].shape[0]

    def normalise(self, xb):
        # NHWC uint8 -> NCHW float whose memory is channels_last (no copy of the layout)
        x = xb.permute(0, 3, 1, 2).float()
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def augmented(self, idx, gen):
        """Random crop 32 from the zero-padded 40x40 image and horizontal flip, as one gather."""
        x, y = self.splits["train"]
        xb = x[idx]
        b = xb.shape[0]
        xp = F.pad(xb, (0, 0, 4, 4, 4, 4))
        oy = torch.randint(0, 9, (b,), generator=gen).to(self.device)
        ox = torch.randint(0, 9, (b,), generator=gen).to(self.device)
        flip = (torch.rand(b, generator=gen) < 0.5).to(self.device)
        ar = torch.arange(32, device=self.device)
        rows = oy[:, None] + ar
        cols = ox[:, None] + torch.where(flip[:, None], 31 - ar, ar)
        bi = torch.arange(b, device=self.device)[:, None, None]
        xb = xp[bi, rows[:, :, None], cols[:, None, :]]
        return self.normalise(xb), y[idx]


def resize(x, r):
    """The input pipeline of the CIFAR archs (resize_ratio 1.0): bilinear, half-pixel centres,
    no antialiasing."""
    if x.shape[-1] == r:
        return x
    return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False).contiguous(
        memory_format=torch.channels_last)


# --- training -------------------------------------------------------------------------------
def step_seed(seed, phase, epoch, step):
    # every step draws its randomness from its own seed, so a resumed run repeats it exactly
    return ((seed * 1000003 + phase) * 1000003 + epoch) * 1000003 + step


def param_groups(model, wd):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        # BN, biases, transform matrices and depthwise kernels: no weight decay (OFA / MBv3)
        if p.dim() == 1 or name.endswith("_matrix") or name.endswith("dw.weight"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model, ph, cfg, steps):
    opt = torch.optim.SGD(param_groups(model, cfg["wd"]), lr=ph["lr"], momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=ph["lr"], total_steps=max(steps, 2), pct_start=ph["warmup"],
        anneal_strategy="cos", div_factor=10.0, final_div_factor=100.0)
    return opt, sched


def soft_ce(logits, soft):
    return -(soft * F.log_softmax(logits, dim=1)).sum(1).mean()


def train_step(model, data, idx, ph, arch, gen, rng, autocast):
    xb, yb = data.augmented(idx, gen)
    big = SubnetConfig.largest(arch)
    model.set_active_subnet(big)
    with autocast():
        out = model(resize(xb, big.r))
        loss = F.cross_entropy(out.float(), yb, label_smoothing=ph["label_smoothing"])
    loss.backward()
    total = loss.item()
    if ph["elastic"]:
        soft = F.softmax(out.detach().float(), dim=1)
        subs = [SubnetConfig.smallest_of(arch, ph["elastic"])]
        subs += [SubnetConfig.sample(arch, rng, ph["elastic"]) for _ in range(ph["n_random"])]
        for c in subs:
            model.set_active_subnet(c)
            with autocast():
                o = model(resize(xb, c.r)).float()
                l = F.cross_entropy(o, yb, label_smoothing=ph["label_smoothing"])
                if ph["kd"] > 0:
                    l = l + ph["kd"] * soft_ce(o, soft)
            l.backward()
            total += l.item()
    return total


@torch.no_grad()
def evaluate(model, data, cfg, split, calib_idx, autocast, bs=500):
    """Top-1 of one sub-network with BN statistics recalibrated on fixed training images
    (as OFA does before measuring a sub-network). Restores the BN buffers afterwards."""
    saved = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}
    model.set_active_subnet(cfg)
    xt, _ = data.splits["train"]

    def calib_batches():
        for i in range(0, len(calib_idx), 250):
            yield resize(data.normalise(xt[calib_idx[i:i + 250]]), cfg.r)

    with autocast():
        model.calibrate_bn(calib_batches())
        model.eval()
        x, y = data.splits[split]
        correct = 0
        for i in range(0, x.shape[0], bs):
            out = model(resize(data.normalise(x[i:i + bs]), cfg.r))
            correct += (out.argmax(1) == y[i:i + bs]).sum().item()
    model.train()
    model.load_state_dict(saved, strict=False)
    return 100.0 * correct / x.shape[0]


class ThreadTuner:
    """--threads auto: on a machine shared with other jobs, two OpenMP threads stall at every
    barrier whenever one of them is descheduled, and one thread can then be several times
    faster. Every `every_s` seconds, time `trial` steps with the other thread count and keep
    the faster. Thread counts change float reduction order, so this gives up bitwise
    reproducibility (a fixed --threads keeps it)."""

    def __init__(self, choices=(1, 2), every_s=120.0, trial=4):
        self.choices, self.every_s, self.trial = choices, every_s, trial
        self.cur = max(choices)
        self.recent = []          # step times with the current count
        self.trying = None        # the other count while it is being tried
        self.trial_times = []
        self.next_trial = time.time() + 30.0
        torch.set_num_threads(self.cur)

    def threads_for_step(self):
        if self.trying is None and time.time() >= self.next_trial and self.recent:
            self.trying = [c for c in self.choices if c != self.cur][0]
            self.trial_times = []
        t = self.trying or self.cur
        torch.set_num_threads(t)
        return t

    def record(self, t, dt):
        if self.trying is None:
            self.recent = (self.recent + [dt])[-8:]
            return
        self.trial_times.append(dt)
        if len(self.trial_times) < self.trial:
            return
        # the first step after a switch pays for waking or parking threads: not counted
        if np.median(self.trial_times[1:]) < 0.85 * np.median(self.recent):
            self.cur = self.trying
            self.recent = self.trial_times[1:]
        self.trying = None
        self.next_trial = time.time() + self.every_s
        torch.set_num_threads(self.cur)


def save_checkpoint(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def fmt_time(s):
    s = int(max(s, 0))
    return "%dh%02dm%02ds" % (s // 3600, s // 60 % 60, s % 60)


def phase_cost(arch, ph):
    """MACs trained per image in one step of a phase: the unit of the ETA estimate."""
    big = count_macs(arch, SubnetConfig.largest(arch))
    if not ph["elastic"]:
        return big
    small = count_macs(arch, SubnetConfig.smallest_of(arch, ph["elastic"]))
    rng = random.Random(0)
    mid = np.mean([count_macs(arch, SubnetConfig.sample(arch, rng, ph["elastic"])) for _ in range(64)])
    return big + small + ph["n_random"] * mid


def run(args):
    cfgp = preset(args.preset)
    if args.phase_epochs:
        for ph, e in zip(cfgp["phases"], args.phase_epochs.split(",")):
            ph["epochs"] = int(e)
    arch = cfgp["arch"]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tuner = None
    if args.threads == "auto":
        tuner = ThreadTuner()
    else:
        torch.set_num_threads(int(args.threads))
    if device.type == "cuda":
        # sub-networks change shapes every step: cuDNN autotuning would re-run per new shape
        torch.backends.cudnn.benchmark = False
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = contextlib.nullcontext
    ckdir = os.path.join(args.root, "checkpoints", args.preset)
    os.makedirs(ckdir, exist_ok=True)
    ckpath = os.path.join(ckdir, "last.pt")

    big, small = SubnetConfig.largest(arch), SubnetConfig.smallest(arch)
    mb, ms = count_macs(arch, big), count_macs(arch, small)
    print("dynrt train: preset %s on %s, largest %.1f MMAC (%s), smallest %.1f MMAC (%s), ratio %.1fx"
          % (args.preset, device, mb / 1e6, big.to_string(arch), ms / 1e6, small.to_string(arch), mb / ms),
          flush=True)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = DynamicMBV3(arch).to(device).to(memory_format=torch.channels_last)
    data = Data(arch, device, args.data_pack, cfgp.get("max_train"), cfgp.get("max_eval"))
    ntrain = data.n("train")
    bs = cfgp["batch"]
    steps_per_epoch = ntrain // bs  # drop the last partial batch: BN needs full batches
    calib_idx = torch.from_numpy(np.random.default_rng(12345).permutation(ntrain)[:2000]).to(device)

    state = dict(phase=0, epoch=0, step=0, history=[], wall=0.0, sorted=False)
    opt = sched = None
    if args.resume and os.path.exists(ckpath):
        ck = torch.load(ckpath, map_location=device)
        if ck["preset"] != args.preset or ck["seed"] != args.seed:
            raise SystemExit("train: %s is for preset %s seed %d" % (ckpath, ck["preset"], ck["seed"]))
        model.load_state_dict(ck["model"])
        state = ck["state"]
        ph = cfgp["phases"][state["phase"]] if state["phase"] < len(cfgp["phases"]) else None
        # a checkpoint taken between phases has no optimizer: the phase loop makes it
        if ph is not None and ck["optimizer"] is not None:
            opt, sched = make_optimizer(model, ph, cfgp, ph["epochs"] * steps_per_epoch)
            opt.load_state_dict(ck["optimizer"])
            sd = ck["scheduler"]
            if sd["total_steps"] == sched.total_steps:
                sched.load_state_dict(sd)
            else:
                # --phase-epochs changed this phase's length: keep the step reached and re-plan
                # the rest of the one-cycle schedule over the new length
                if sd["last_epoch"] >= sched.total_steps:
                    raise SystemExit("train: checkpoint is at step %d of this phase, past the %d "
                                     "steps --phase-epochs leaves it" % (sd["last_epoch"], sched.total_steps))
                sched.last_epoch = sd["last_epoch"]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for g, lr in zip(opt.param_groups, sched.get_lr()):
                        g["lr"] = lr
                print("dynrt train: phase %d re-planned from %d to %d steps (lr now %.4g)" % (
                    state["phase"] + 1, sd["total_steps"], sched.total_steps, opt.param_groups[0]["lr"]),
                    flush=True)
        torch.set_rng_state(ck["torch_rng"])
        if device.type == "cuda" and ck.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ck["cuda_rng"])
        print("dynrt train: resumed from %s at phase %d epoch %d step %d" % (
            ckpath, state["phase"], state["epoch"], state["step"]), flush=True)
    elif args.init_from:
        # start at phase 2 from another run's largest network (same tensor shapes)
        ck = torch.load(args.init_from, map_location=device)
        cs = ck["state"]
        if (cs["phase"], cs["epoch"], cs["step"]) != (1, 0, 0):
            raise SystemExit("train: %s is not a checkpoint taken at the end of the first phase "
                             "(phase0_end.pt)" % args.init_from)
        # The largest network of both presets has the same tensors; the source's kernel
        # transform matrices (7to5, 5to3) are unused when the target fixes k=7: drop them.
        own = model.state_dict()
        missing = [k for k in own if k not in ck["model"]]
        if missing:
            raise SystemExit("train: %s lacks %d tensors of this preset (first: %s)" % (
                args.init_from, len(missing), missing[0]))
        extra = [k for k in ck["model"] if k not in own]
        if any(not k.endswith("_matrix") for k in extra):
            raise SystemExit("train: %s has tensors this preset does not (first: %s)" % (
                args.init_from, [k for k in extra if not k.endswith("_matrix")][0]))
        model.load_state_dict({k: v for k, v in ck["model"].items() if k in own})
        state["phase"] = 1
        state["history"] = [dict(h, init_from=args.init_from) for h in ck["state"]["history"]
                            if h["phase"] == 0]
        print("dynrt train: phase 1 taken from %s" % args.init_from, flush=True)

    def checkpoint():
        save_checkpoint(ckpath, dict(
            preset=args.preset, seed=args.seed, model=model.state_dict(), state=state,
            optimizer=opt.state_dict() if opt else None, scheduler=sched.state_dict() if sched else None,
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state() if device.type == "cuda" else None))

    if args.probe:
        probe(args, cfgp, model, data, steps_per_epoch, autocast)
        return
    costs = [phase_cost(arch, ph) for ph in cfgp["phases"]]
    t_start = time.time() - state["wall"]
    last_ck = time.time()
    steps_run = 0
    if not args.export_only:
        while state["phase"] < len(cfgp["phases"]):
            pi = state["phase"]
            ph = cfgp["phases"][pi]
            if opt is None:
                if (ph["sort_expand"] or ph["sort_width"]) and not state["sorted"]:
                    # middle channels matter as soon as expand ratios or widths are elastic
                    # (a narrower input gives a narrower middle)
                    reorganize_middle_weights(model, 0)
                    if ph["sort_width"]:
                        reorganize_widths(model)
                    # index_select gives contiguous weights: restore channels_last, as a resumed
                    # run has it, so both pick the same kernels and stay bit-identical
                    model.to(memory_format=torch.channels_last)
                    state["sorted"] = True
                opt, sched = make_optimizer(model, ph, cfgp, ph["epochs"] * steps_per_epoch)
                print("dynrt train: phase %d '%s': %d epochs, elastic %s, lr %g" % (
                    pi, ph["name"], ph["epochs"], ",".join(ph["elastic"]) or "none", ph["lr"]), flush=True)
            model.train()
            t_rate, n_rate = time.time(), 0
            while state["epoch"] < ph["epochs"]:
                ep = state["epoch"]
                perm = torch.from_numpy(np.random.default_rng(step_seed(args.seed, pi, ep, 0))
                                        .permutation(ntrain)).to(device)
                loss_sum, loss_n = 0.0, 0
                t_print = time.time()
                while state["step"] < steps_per_epoch:
                    st = state["step"]
                    s = step_seed(args.seed, pi, ep, st + 1)
                    gen = torch.Generator().manual_seed(s % (1 << 63))
                    rng = random.Random(s)
                    opt.zero_grad(set_to_none=True)
                    nthr = tuner.threads_for_step() if tuner else None
                    t_step = time.time()
                    loss = train_step(model, data, perm[st * bs:(st + 1) * bs], ph, arch, gen, rng, autocast)
                    if not math.isfinite(loss):
                        raise SystemExit("train: loss is %s at phase %d epoch %d step %d" % (loss, pi, ep, st))
                    opt.step()
                    sched.step()
                    if tuner:
                        tuner.record(nthr, time.time() - t_step)
                    state["step"] += 1
                    loss_sum += loss
                    loss_n += 1
                    n_rate += bs
                    now = time.time()
                    if args.max_steps and state["step"] >= args.max_steps:
                        state["step"] = steps_per_epoch
                    if now - t_print >= args.print_every or state["step"] == steps_per_epoch:
                        ips = n_rate / max(now - t_rate, 1e-9)
                        left_ph = (ph["epochs"] - ep) * steps_per_epoch - state["step"]
                        eta = left_ph * bs / ips
                        # later phases: scale by their MACs per step relative to this phase
                        for pj in range(pi + 1, len(cfgp["phases"])):
                            eta += cfgp["phases"][pj]["epochs"] * steps_per_epoch * bs / ips * costs[pj] / costs[pi]
                        print("[%s] phase %d/%d %s epoch %d/%d step %d/%d loss %.4f lr %.4g  %.1f img/s  "
                              "phase ETA %s  total ETA %s%s" % (
                                  fmt_time(now - t_start), pi + 1, len(cfgp["phases"]), ph["name"], ep + 1,
                                  ph["epochs"], state["step"], steps_per_epoch, loss_sum / loss_n,
                                  sched.get_last_lr()[0], ips, fmt_time(left_ph * bs / ips), fmt_time(eta),
                                  "  threads %d" % tuner.cur if tuner else ""),
                              flush=True)
                        t_print = now
                        t_rate, n_rate = now, 0
                    steps_run += 1
                    if args.stop_after and steps_run >= args.stop_after and state["step"] < steps_per_epoch:
                        state["wall"] = time.time() - t_start
                        checkpoint()
                        print("dynrt train: stopped after %d steps (--stop-after)" % steps_run, flush=True)
                        return
                    if now - last_ck >= args.ckpt_minutes * 60 and state["step"] < steps_per_epoch:
                        state["wall"] = time.time() - t_start
                        checkpoint()
                        last_ck = time.time()
                # end of epoch: validation of the extremes (val only; test is never looked at here)
                vb = evaluate(model, data, big, "val", calib_idx, autocast)
                rec = dict(phase=pi, epoch=ep + 1, loss=loss_sum / max(loss_n, 1), val_largest=vb,
                           wall=time.time() - t_start)
                msg = "val top-1 largest %.2f%%" % vb
                if ph["elastic"]:
                    vs = evaluate(model, data, SubnetConfig.smallest_of(arch, ph["elastic"]), "val",
                                  calib_idx, autocast)
                    rec["val_smallest"] = vs
                    msg += ", smallest %.2f%%" % vs
                state["history"].append(rec)
                print("dynrt train: phase %d epoch %d done: %s" % (pi + 1, ep + 1, msg), flush=True)
                state["epoch"] += 1
                state["step"] = 0
                state["wall"] = time.time() - t_start
                checkpoint()
                last_ck = time.time()
            state["phase"] += 1
            state["epoch"] = 0
            opt = sched = None
            state["wall"] = time.time() - t_start
            checkpoint()
            # kept for --init-from (e.g. the width-only baseline starts from the same largest net)
            shutil.copyfile(ckpath, os.path.join(ckdir, "phase%d_end.pt" % pi))

    finish(args, cfgp, model, data, calib_idx, autocast, state, t_start, mb, ms)


def probe(args, cfgp, model, data, steps_per_epoch, autocast):
    """Time real training steps of every phase for args.probe seconds in all, on a throwaway
    copy of the weights, and estimate the wall time of the preset."""
    arch = cfgp["arch"]
    bs = cfgp["batch"]
    total = 0.0
    per = args.probe / len(cfgp["phases"])
    for pi, ph in enumerate(cfgp["phases"]):
        opt, sched = make_optimizer(model, ph, cfgp, 1000)
        n, t0, t = 0, None, time.time()
        while time.time() - t < per or n < 3:
            idx = torch.randint(0, data.n("train"), (bs,), generator=torch.Generator().manual_seed(n))
            opt.zero_grad(set_to_none=True)
            train_step(model, data, idx.to(data.device), ph, arch, torch.Generator().manual_seed(n),
                       random.Random(n), autocast)
            opt.step()
            n += 1
            if n == 1:
                t0 = time.time()  # the first step warms caches up: not timed
        ips = (n - 1) * bs / (time.time() - t0)
        est = ph["epochs"] * steps_per_epoch * bs / ips
        total += est
        print("dynrt train: probe phase %d '%s': %.1f img/s -> %d epochs take %s" % (
            pi + 1, ph["name"], ips, ph["epochs"], fmt_time(est)), flush=True)
    print("dynrt train: probe: the preset takes about %s (+ evaluation)" % fmt_time(total), flush=True)


def finish(args, cfgp, model, data, calib_idx, autocast, state, t_start, mb, ms):
    arch = cfgp["arch"]
    big, small = SubnetConfig.largest(arch), SubnetConfig.smallest(arch)
    res = {}
    for tag, c in (("largest", big), ("smallest", small)):
        for split in ("val", "test"):
            res["%s_%s_top1" % (split, tag)] = evaluate(model, data, c, split, calib_idx, autocast)
    print("dynrt train: final %s" % json.dumps(res), flush=True)
    name = args.name or cfgp["model_name"]
    mdir = os.path.join(args.root, "models")
    os.makedirs(mdir, exist_ok=True)
    # the file carries BN statistics calibrated for the largest sub-network; dynrt calibrate
    # computes per-sub-network tables
    model.set_active_subnet(big)
    xt, _ = data.splits["train"]
    with torch.no_grad(), autocast():
        model.calibrate_bn(resize(data.normalise(xt[calib_idx[i:i + 250]]), big.r)
                           for i in range(0, len(calib_idx), 250))
    out = os.path.join(mdir, name + ".safetensors")
    export_dynrt(model.float().cpu(), out)
    check = engine_check(model, out)
    summary = dict(
        command=" ".join(["scripts/train"] + sys.argv[1:]), preset=args.preset, seed=args.seed,
        model=name + ".safetensors",
        epochs_per_phase={ph["name"]: ph["epochs"] for ph in cfgp["phases"]},
        phases=cfgp["phases"], batch=cfgp["batch"],
        wall_time_s=round(state["wall"] if args.export_only else time.time() - t_start, 1),
        device=str(data.device),
        largest=dict(config=big.to_string(arch), macs=mb), smallest=dict(config=small.to_string(arch), macs=ms),
        bn_in_file="calibrated for the largest sub-network on 2000 training images",
        engine_check=check, history=state["history"], **{k: round(v, 2) for k, v in res.items()})
    tmp = os.path.join(mdir, name + ".train.json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, os.path.join(mdir, name + ".train.json"))
    print("dynrt train: wrote models/%s.safetensors and models/%s.train.json" % (name, name), flush=True)
    if "error" in check:
        raise SystemExit("dynrt train: the C engine disagrees with the trained model: %s" % check["error"])


def engine_check(model, path):
    """The exported file loaded by the C engine and compared with the PyTorch model
    (dynrt_ref.verify); a dict for train.json, with "error" when they disagree."""
    dynrt = find_dynrt()
    if not dynrt:
        print("dynrt train: %s not verified with the C engine: no build/dynrt or $DYNRT_BIN "
              "(python/export.py %s OUT verifies it later)" % (path, path), flush=True)
        return {"verified": False, "why": "no dynrt binary"}
    try:
        rows = verify_file(model, path, dynrt)
    except EngineError as e:  # e.g. an old binary: the file stays, unverified
        print("dynrt train: %s not verified: the C engine could not run it: %s" % (path, e),
              flush=True)
        return {"verified": False, "why": "engine failed: %s" % str(e)[:300]}
    except VerifyError as e:
        return {"verified": False, "error": str(e)}
    worst = max(r[1] for r in rows)
    print("dynrt train: verified with the C engine: %d sub-networks, worst max rel err %.1e"
          % (len(rows), worst), flush=True)
    return {"verified": True, "subnetworks": len(rows), "worst_rel_err": float("%.2g" % worst)}


def main():
    p = argparse.ArgumentParser(description="Train a dynrt CIFAR-10 super-network")
    p.add_argument("--preset", required=True, help="cpu, cpu-width, full, smoke")
    p.add_argument("--resume", action="store_true", help="continue from checkpoints/<preset>/last.pt")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--export-only", action="store_true", help="evaluate and export the last checkpoint")
    p.add_argument("--phase-epochs", help="override the epochs per phase, e.g. 12,16")
    p.add_argument("--init-from", help="fresh run only: skip phase 1, take the weights of this "
                   "checkpoint (e.g. checkpoints/cpu/phase0_end.pt)")
    p.add_argument("--data-pack", help="read data from a pack written by python/pack_data.py")
    p.add_argument("--name", help="output model name (default: the preset's)")
    p.add_argument("--root", default=REPO, help="directory holding checkpoints/ and models/ (default: the repository)")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--threads", default="2",
                   help="CPU threads, or 'auto' (picks 1 or 2 by measured speed; not bit-reproducible)")
    p.add_argument("--ckpt-minutes", type=float, default=10.0)
    p.add_argument("--print-every", type=float, default=30.0, help="seconds between progress lines")
    p.add_argument("--probe", type=float, default=0,
                   help="time N seconds of training steps, print img/s and the preset's duration, exit")
    p.add_argument("--max-steps", type=int, default=0, help="cut every epoch after N steps (tests)")
    p.add_argument("--stop-after", type=int, default=0,
                   help="checkpoint and stop after N steps of this run, as if interrupted (tests)")
    args = p.parse_args()
    if args.export_only:
        args.resume = True
    run(args)


if __name__ == "__main__":
    main()
