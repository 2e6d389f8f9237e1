"""Grad-CAM per cluster: where in time and mel frequency a piece looks like its cluster.

For one piece and its cluster, the target is the cosine similarity between
the piece's embedding and the cluster's centroid. Its gradient with respect
to the last convolutional maps weights each channel (the mean gradient over
the map), the weighted sum of the maps goes through a ReLU, and the result is
laid over the input spectrogram as a ``time x mel`` heat map (Selvaraju et
al. 2017, with a similarity instead of a class score).

Which maps:

* **musicnn** (``musicnn``, ``musicnn-mtt``): the mid-end convolutions see
  time only (the front-end already took the max over frequency), so the last
  maps with a mel axis are the five front-end branches after their BN. They
  are treated as one layer; column ``j`` of a branch whose kernel is ``k``
  bins wide is spread evenly over the mel bins ``j .. j+k-1`` it sees.
  The heat map is ``(187, 96)``.
* **msd-vgg**: block 5 after its BN, ``(11, 6)``, resized (bilinear) to
  ``(187, 96)``.
* **VGGish**: the last conv layer after its ReLU, ``(12, 8)``, resized to
  ``(96, 64)``. The target uses the raw 128-d embedding (the postprocessor's
  rounding has no gradient).

Each piece's heat map is scaled to a maximum of 1 (an all-zero map stays
zero), so a cluster's mean map weighs its members equally. Per cluster,
:func:`cluster_heatmaps` averages the heat maps and the input spectrograms
of at most ``max_per_cluster`` members (default :data:`MAX_PER_CLUSTER`,
drawn with a seeded generator): the thesis's "mean activation per cluster".
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..config import EmbedConfig
from ..errors import ModelError, ParameterError
from ..records import ClusterHeatmap
from .embed import EmbeddingModel, _threads, batch_size_for, embed_inputs, load_model

__all__ = ["MAX_PER_CLUSTER", "gradcam", "sample_members", "cluster_centroids", "heatmaps_of_samples", "cluster_heatmaps"]

#: Members per cluster whose heat maps are computed (a backward pass each); the rest are not used.
MAX_PER_CLUSTER = 32


def _project(cam: torch.Tensor, width: int, shape: tuple[int, int]) -> torch.Tensor:
    """Map a ``[B, T', W]`` class-activation map onto the input's ``[B, T, F]`` grid."""
    frames, bands = shape
    if width == 0:
        return F.interpolate(cam.unsqueeze(1), size=(frames, bands), mode="bilinear", align_corners=False)[:, 0]
    if cam.shape[1] != frames or cam.shape[2] != bands - width + 1:
        raise ModelError(f"map {tuple(cam.shape)} does not fit a kernel {width} bins wide over {bands} bands")
    b, t, w = cam.shape
    kernel = torch.ones(1, 1, width, dtype=cam.dtype, device=cam.device)
    spread = F.conv_transpose1d(cam.reshape(b * t, 1, w), kernel)  # sum over the columns seeing each bin
    count = F.conv_transpose1d(torch.ones(1, 1, w, dtype=cam.dtype, device=cam.device), kernel)
    return (spread / count).reshape(b, t, bands)


def _batch_cam(net: EmbeddingModel, x: torch.Tensor, target: torch.Tensor, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    out = net.forward(x, layer=layer, maps=True)  # the graph starts at the cam leaves
    if out["embedding"].shape[1] != target.shape[1]:
        raise ParameterError(f"targets have {target.shape[1]} dimensions, {net.model} {layer} embeddings {out['embedding'].shape[1]}")
    sim = F.cosine_similarity(out["embedding"], target, dim=1)
    # pieces are independent (BN in eval mode): one backward pass gives every piece's gradients
    grads = torch.autograd.grad(sim.sum(), out["cam_leaves"])
    with torch.no_grad():
        cam = torch.zeros(x.shape, dtype=x.dtype, device=x.device)
        for fmap, grad, width in zip(out["maps"], grads, out["cam_widths"]):
            # channel weight = mean gradient over the map's positions; a musicnn leaf is the map's max
            # over frequency, whose gradient summed over time is the map's summed over both axes
            weights = grad.flatten(2).sum(dim=2) / (fmap.shape[2] * fmap.shape[3])  # [B, C]
            cam += _project(torch.einsum("bc,bctw->btw", weights, fmap), width, tuple(x.shape[1:]))
        cam = F.relu(cam)
        peak = cam.amax(dim=(1, 2), keepdim=True)
        cam = torch.where(peak > 0, cam / peak.clamp_min(1e-12), cam)
    return cam, sim.detach()


def gradcam(
    inputs: np.ndarray, targets: np.ndarray, *, config: EmbedConfig, batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM heat maps of pieces towards target embeddings (their cluster centroids).

    Parameters
    ----------
    inputs : np.ndarray [shape=(n, frames, bands)]
        Model inputs from :func:`engine.neural.embed.model_inputs`.
    targets : np.ndarray [shape=(n, dim)] or [shape=(dim,)]
        The embedding each piece is compared with (cosine similarity), in
        the space of ``config.layer`` (for VGGish: raw, not postprocessed).
    config : EmbedConfig
        Which model and layer, and the device.
    batch_size : int, optional
        Pieces per forward/backward pass; default the embedding batch size
        (:func:`engine.neural.embed.batch_size_for`), at most 8 (a backward pass
        keeps every map of the batch).

    Returns
    -------
    heat : np.ndarray [shape=(n, frames, bands)], float32
        One map per piece, on the input's grid, scaled to a maximum of 1.
    similarity : np.ndarray [shape=(n,)], float32
        Each piece's cosine similarity to its target.

    Raises
    ------
    ParameterError
        If the shapes do not fit the model.
    ModelError
        If the model cannot be loaded or the passes fail.
    """
    net = load_model(config)
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 3 or inputs.shape[1:] != net.input_shape:
        raise ParameterError(f"{net.model} inputs must have shape (n, {net.input_shape[0]}, {net.input_shape[1]}), got {inputs.shape}")
    targets = np.asarray(targets, dtype=np.float32)
    if targets.ndim == 1:
        targets = np.broadcast_to(targets, (inputs.shape[0], targets.shape[0]))
    if targets.ndim != 2 or targets.shape[0] != inputs.shape[0]:
        raise ParameterError(f"targets {targets.shape} do not match {inputs.shape[0]} inputs")
    size = batch_size or min(batch_size_for(config, net.device), 8)
    heat = np.zeros(inputs.shape, np.float32)
    sims = np.zeros(inputs.shape[0], np.float32)
    try:
        with _threads(net.device), torch.enable_grad():
            for i in range(0, inputs.shape[0], size):
                x = torch.from_numpy(inputs[i : i + size]).to(net.device)
                t = torch.tensor(targets[i : i + size]).to(net.device)  # a copy: targets may be a read-only broadcast
                cam, sim = _batch_cam(net, x, t, config.layer)
                heat[i : i + size] = cam.cpu().numpy()
                sims[i : i + size] = sim.cpu().numpy()
    except RuntimeError as exc:
        raise ModelError(f"Grad-CAM on {net.model} failed: {exc}") from exc
    return heat, sims


def sample_members(labels: np.ndarray, *, max_per_cluster: int = MAX_PER_CLUSTER, seed: int = 0) -> dict[int, np.ndarray]:
    """The members of each cluster that get a backward pass: at most ``max_per_cluster``, drawn seeded.

    One generator seeded with ``seed`` draws each cluster's sample in turn,
    clusters in increasing label order, so the same labels and seed always
    give the same samples.

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)]
        Each piece's cluster; negative labels (noise) are left out.
    max_per_cluster : int
        Sample cap per cluster.
    seed : int
        Seeds the sampling.

    Returns
    -------
    dict int -> np.ndarray [shape=(n_used,)]
        Sorted int64 row indices into ``labels`` per cluster label.

    Raises
    ------
    ParameterError
        If ``max_per_cluster < 1``.
    """
    if max_per_cluster < 1:
        raise ParameterError(f"max_per_cluster must be >= 1, got {max_per_cluster}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen: dict[int, np.ndarray] = {}
    for c in sorted(int(v) for v in np.unique(labels) if v >= 0):
        members = np.flatnonzero(labels == c)
        chosen[c] = np.sort(rng.choice(members, size=min(max_per_cluster, members.size), replace=False)).astype(np.int64)
    return chosen


def heatmaps_of_samples(
    samples: Mapping[int, np.ndarray],
    inputs: Mapping[int, np.ndarray],
    labels: np.ndarray,
    centroids: Mapping[int, np.ndarray],
    *,
    config: EmbedConfig,
) -> dict[int, ClusterHeatmap]:
    """Mean Grad-CAM heat map and mean input of each cluster's sampled members.

    Parameters
    ----------
    samples : mapping int -> np.ndarray [shape=(n_used,)]
        Row indices per cluster (from :func:`sample_members`).
    inputs : mapping int -> np.ndarray [shape=(frames, bands)]
        The model input of every sampled row (an array of all rows will do).
    labels : np.ndarray [shape=(n,)]
        Every row's cluster (counts the members before sampling).
    centroids : mapping int -> np.ndarray [shape=(dim,)]
        The target of each cluster.
    config : EmbedConfig

    Returns
    -------
    dict int -> ClusterHeatmap

    Raises
    ------
    ParameterError
        If a cluster has no centroid or the shapes do not fit the model.
    ModelError
        If the model cannot be loaded or a pass fails.
    """
    missing = [c for c in samples if c not in centroids]
    if missing:
        raise ParameterError(f"no centroid for cluster {missing[0]}")
    labels = np.asarray(labels)
    result: dict[int, ClusterHeatmap] = {}
    for label, used in samples.items():
        x = np.stack([inputs[int(r)] for r in used]).astype(np.float32, copy=False)
        heat, sims = gradcam(x, np.asarray(centroids[label], dtype=np.float32), config=config)
        result[label] = ClusterHeatmap(
            label=label,
            heat=heat.mean(axis=0),
            mean_input=x.mean(axis=0),
            members=np.asarray(used, dtype=np.int64),
            n_members=int((labels == label).sum()),
            similarity=float(sims.mean()),
        )
    return result


def cluster_centroids(embeddings: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """The mean embedding (float32) of every cluster's pieces, all of them; noise (negative labels) left out."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    return {int(c): embeddings[labels == c].mean(axis=0) for c in np.unique(labels) if c >= 0}


def cluster_heatmaps(
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    config: EmbedConfig,
    embeddings: np.ndarray | None = None,
    centroids: Mapping[int, np.ndarray] | None = None,
    max_per_cluster: int = MAX_PER_CLUSTER,
    seed: int = 0,
) -> dict[int, ClusterHeatmap]:
    """Mean Grad-CAM heat map and mean input spectrogram per cluster.

    Parameters
    ----------
    inputs : np.ndarray [shape=(n, frames, bands)]
        Model inputs of the pieces (from :func:`engine.neural.embed.model_inputs`).
    labels : np.ndarray [shape=(n,)]
        Each piece's cluster (the cluster of the section it belongs to);
        negative labels (noise) are left out.
    config : EmbedConfig
    embeddings : np.ndarray [shape=(n, dim)], optional
        The pieces' embeddings in ``config.layer`` (unpostprocessed), used
        for the centroids; computed from ``inputs`` when omitted.
    centroids : mapping int -> np.ndarray [shape=(dim,)], optional
        Explicit centroids; by default the mean embedding of each cluster's
        pieces (all of them, not only the sampled ones).
    max_per_cluster : int
        Sample cap: at most this many members per cluster get a backward
        pass (drawn by :func:`sample_members`).
    seed : int
        Seeds the sampling.

    Returns
    -------
    dict int -> ClusterHeatmap

    Raises
    ------
    ParameterError
        If shapes disagree, a centroid is missing, or ``max_per_cluster < 1``.
    ModelError
        If the model cannot be loaded or a pass fails.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    labels = np.asarray(labels)
    if inputs.ndim != 3 or labels.shape != (inputs.shape[0],):
        raise ParameterError(f"inputs {inputs.shape} and labels {labels.shape} disagree")
    samples = sample_members(labels, max_per_cluster=max_per_cluster, seed=seed)
    if centroids is None:
        if embeddings is None:
            net = load_model(config)
            embeddings, _ = embed_inputs(inputs, net=net, layer=config.layer, batch_size=batch_size_for(config, net.device))
        if np.asarray(embeddings).shape[0] != inputs.shape[0]:
            raise ParameterError(f"{np.asarray(embeddings).shape[0]} embeddings for {inputs.shape[0]} inputs")
        centroids = cluster_centroids(embeddings, labels)
    return heatmaps_of_samples(samples, inputs, labels, centroids, config=config)
