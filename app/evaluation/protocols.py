"""How well an encoder tells faces apart: verification and identification metrics and the LFW /
folder protocols that feed them.

Metrics are pure numpy on distances (smaller = more similar; a pair is accepted as "same
person" iff its distance is strictly below the threshold, as the app's matcher does), so they
can be checked by hand on a handful of numbers. The protocols only know a callable that turns
image paths into embeddings (`EmbedPaths`); `evaluation.model.make_embed_paths` wires a real
encoder and detector into it, and tests pass a fake one, so this module never imports torch.

Honest numbers (see the shared DATA.md): the verification threshold is chosen on
`pairsDevTrain.txt` (training people) and only applied to `pairsDevTest.txt`; View 2's
10-fold accuracy picks each fold's threshold on the other nine folds.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from app.errors import DatasetError, ModelError
from app.evaluation.datasets import lfw_image_path, read_pairs, scan_identity_folders
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.matching import Matcher
from app.recognition.scoring import CohortScorer, pair_distances

# Image paths → (embeddings (N, D) float32 L2-normalised, found (N,) bool: the detector found a
# face; misses were embedded from a fallback box by the caller, so every image has a vector).
EmbedPaths = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]

# A verification pair as `datasets.read_pairs` returns it: (name1, n1, name2, n2, same).
Pair = tuple[str, int, str, int, bool]

# The FAR at which the reports quote TAR and DIR (the keys say "1e-2").
REPORT_FAR = 1e-2


# ---- metrics ---------------------------------------------------------------------------------

def _as_scores(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 distances and bool labels, so every metric fails the same clear way on
    a length mismatch or a NaN instead of silently comparing garbage."""
    d = np.asarray(distances, dtype=np.float64).ravel()
    s = np.asarray(same).ravel()
    if s.dtype != bool:
        s = s.astype(bool)
    if d.shape != s.shape:
        raise ValueError(f"{d.size} distances but {s.size} same/different labels.")
    if d.size == 0:
        raise ValueError("No distances to evaluate.")
    if not np.all(np.isfinite(d)):
        raise ValueError("Distances must be finite.")
    return d, s


def _need_both_classes(s: np.ndarray, what: str) -> None:
    if s.all() or not s.any():
        raise ValueError(f"{what} needs both same-person and different-person pairs.")


def _sorted_counts(d: np.ndarray, s: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct distances ascending, the index where each starts in the sorted order (= how many
    pairs lie strictly below it), and cumulative same/different counts (length n+1, so
    `cum[k]` counts the k smallest pairs). Every threshold question reduces to these."""
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    uniq, start = np.unique(ds, return_index=True)
    cum_same = np.concatenate([[0], np.cumsum(ss)])
    cum_diff = np.concatenate([[0], np.cumsum(~ss)])
    return uniq, start, cum_same, cum_diff


def roc(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of the rule "same iff distance < t": (far, tar, thresholds), thresholds ascending.

    The thresholds are -inf (accepts nothing), every distinct distance except the smallest
    (with the strict "<", t = the smallest distance also accepts nothing, the same point as
    -inf, so it is left out rather than duplicated), and +inf (accepts everything). So far and
    tar both run from 0 to 1, non-decreasing, one point per distinct operating point, and ties
    move the curve diagonally (which is what makes the trapezoid AUC count ties as half).
    Raises ValueError unless both classes are present (a rate over zero pairs is undefined).
    """
    d, s = _as_scores(distances, same)
    _need_both_classes(s, "An ROC curve")
    uniq, start, cum_same, cum_diff = _sorted_counts(d, s)
    accepted = np.concatenate([start, [d.size]])  # start[0] == 0: the -inf point
    thresholds = np.concatenate([[-np.inf], uniq[1:], [np.inf]])
    tar = cum_same[accepted] / cum_same[-1]
    far = cum_diff[accepted] / cum_diff[-1]
    return far, tar, thresholds


def auc(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray) -> float:
    """Area under `roc` by the trapezoid rule: the probability that a random same-person pair is
    closer than a random different-person pair, ties counting half. Threshold-free, so it
    compares encoders without first agreeing on a τ."""
    far, tar, _ = roc(distances, same)
    return float(np.trapezoid(tar, far))


def best_threshold(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray
                   ) -> float:
    """τ maximising the accuracy of "same iff d < τ" on these pairs (the app's operating
    threshold is calibrated this way on training people).

    Candidates are the midpoints between consecutive distinct distances (so τ never sits on a
    distance and the strict "<" cannot flip a pair), plus the two ends: the smallest distance
    itself (accepts nothing) and the next float above the largest (accepts everything), the
    tightest such values so τ never strays outside the data seen. When several candidates give
    the same accuracy the smallest wins: the stricter threshold, fewer false accepts.
    Works with one class only (e.g. all same pairs → accept everything).
    """
    d, s = _as_scores(distances, same)
    uniq, start, cum_same, cum_diff = _sorted_counts(d, s)
    n_diff = int(cum_diff[-1])
    accepted = np.concatenate([start, [d.size]])
    correct = cum_same[accepted] + (n_diff - cum_diff[accepted])  # integers: exact ties
    k = int(np.argmax(correct))  # first maximum = smallest τ
    if k == 0:
        return float(uniq[0])
    if k == len(uniq):
        return float(np.nextafter(uniq[-1], np.inf))
    return float((uniq[k - 1] + uniq[k]) / 2.0)


def accuracy(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray,
             tau: float) -> float:
    """Fraction of pairs the rule "same iff d < τ" gets right."""
    d, s = _as_scores(distances, same)
    return float(np.mean((d < tau) == s))


def threshold_at_far(impostor_distances: Sequence[float] | np.ndarray, far_target: float) -> float:
    """The largest τ with FAR(τ) = #(impostor d < τ) / n ≤ far_target.

    FAR may accept at most k = floor(far_target·n) impostors. With the strict "<", τ equal to
    the (k+1)-th smallest impostor distance accepts at most k of them (fewer with ties) and
    any larger τ accepts at least k+1, so that distance is the answer; +inf when far_target
    allows every impostor. A tiny tolerance keeps e.g. 0.29·100 = 28.999… from losing a pair.
    """
    imp = np.sort(np.asarray(impostor_distances, dtype=np.float64).ravel())
    if imp.size == 0:
        raise ValueError("A FAR threshold needs at least one impostor distance.")
    if not np.all(np.isfinite(imp)):
        raise ValueError("Distances must be finite.")
    if not far_target >= 0.0:
        raise ValueError(f"far_target must be >= 0, got {far_target}.")
    k = int(math.floor(far_target * imp.size + 1e-9))
    if k >= imp.size:
        return math.inf
    return float(imp[k])


def tar_at_far(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray,
               far_target: float) -> tuple[float, float]:
    """(TAR, τ) at the largest τ whose false-accept rate on these pairs is ≤ far_target: how
    many genuine pairs still pass when impostors are held to that rate (a security-minded
    operating point that accuracy hides)."""
    d, s = _as_scores(distances, same)
    _need_both_classes(s, "TAR at FAR")
    tau = threshold_at_far(d[~s], far_target)
    return float(np.mean(d[s] < tau)), tau


def kfold_accuracy(distances: Sequence[float] | np.ndarray, same: Sequence[bool] | np.ndarray,
                   fold_ids: Sequence[int] | np.ndarray) -> tuple[float, float, np.ndarray]:
    """LFW View 2 style accuracy: for each fold, τ = best_threshold on all the other folds and
    accuracy on that fold, so no fold is scored with a τ that saw it.

    Returns (mean, std, per_fold) with per_fold in ascending fold-id order. std is numpy's
    default population std (ddof=0) over the fold accuracies, as most published LFW code
    reports it; it is a spread of folds, not a standard error.
    """
    d, s = _as_scores(distances, same)
    f = np.asarray(fold_ids).ravel()
    if f.shape != d.shape:
        raise ValueError(f"{d.size} distances but {f.size} fold ids.")
    folds = np.unique(f)
    if folds.size < 2:
        raise ValueError("k-fold accuracy needs at least two folds.")
    per_fold = np.empty(folds.size)
    for i, fold in enumerate(folds):
        test = f == fold
        tau = best_threshold(d[~test], s[~test])
        per_fold[i] = accuracy(d[test], s[test], tau)
    return float(per_fold.mean()), float(per_fold.std()), per_fold


def far_label(far_target: float) -> str:
    """1e-2 → "1e-2", 0.015 → "1.5e-2": the FAR as it appears in result keys."""
    mant, exp = f"{far_target:e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"


def _as_matrix(x: np.ndarray, name: str, dim: int | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 1 and a.size == 0 and dim is not None:
        a = a.reshape(0, dim)
    if a.ndim != 2 or (dim is not None and a.shape[1] != dim):
        raise ValueError(f"{name} must be an (N, {dim if dim is not None else 'D'}) array, "
                         f"got shape {a.shape}.")
    return a


def one_shot_identification(gallery_emb: np.ndarray, gallery_labels: Sequence | np.ndarray,
                            probe_emb: np.ndarray, probe_labels: Sequence | np.ndarray,
                            unknown_emb: np.ndarray, far_target: float = REPORT_FAR,
                            cancel: CancelToken | None = None, scorer: CohortScorer | None = None,
                            per_probe: bool = False) -> dict:
    """Open-set identification as the app does it: each probe goes to its nearest gallery
    embedding by the app's score (`Matcher.nearest`), and is reported only if that distance is below a threshold.

    - `oneshot_rank1`: fraction of known probes (people who are in the gallery) whose nearest
      gallery embedding carries their label: closed-set, threshold-free.
    - `oneshot_dir_at_far_<far>` (detection and identification rate): fraction of known probes
      that are right AND nearer than τ, where τ = `threshold_at_far` of the unknown probes'
      nearest distances, i.e. at most far_target of strangers would be named as someone.
      None when there are no unknown probes (no way to set τ).
    Also `dir_threshold` (that τ, None without unknowns), `far_target`, and the counts
    `gallery`, `known_probes`, `unknown_probes`. Nearest-neighbour ties go to the first
    gallery row. With a `scorer` the distances are cohort-normalised, as the app's `Matcher`
    compares them; with `per_probe`, `probe_correct` lists whether each known probe was named right.
    """
    g = _as_matrix(gallery_emb, "gallery_emb")
    dim = g.shape[1]
    p = _as_matrix(probe_emb, "probe_emb", dim)
    u = _as_matrix(unknown_emb, "unknown_emb", dim)
    gl = np.asarray(gallery_labels).ravel()
    pl = np.asarray(probe_labels).ravel()
    if len(g) == 0:
        raise ValueError("The gallery is empty.")
    if len(gl) != len(g) or len(pl) != len(p):
        raise ValueError("Each gallery and probe embedding needs exactly one label.")
    if len(p) == 0:
        raise ValueError("Identification needs at least one known probe.")
    # The live rule itself (`Matcher`, with the model's scorer), so evaluated and live decisions agree.
    matcher = Matcher(g, np.arange(len(g)), {i: str(i) for i in range(len(g))}, scorer)

    def nearest(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if cancel is not None:
            cancel.raise_if_cancelled()
        return matcher.nearest(q)
    nn, dist = nearest(p)
    correct = gl[nn] == pl
    dir_value: float | None = None
    tau: float | None = None
    if len(u):
        _, udist = nearest(u)
        tau = threshold_at_far(udist, far_target)
        dir_value = float(np.mean(correct & (dist < tau)))
    out = {"oneshot_rank1": float(np.mean(correct)),
           f"oneshot_dir_at_far_{far_label(far_target)}": dir_value,
           "dir_threshold": tau, "far_target": float(far_target),
           "gallery": int(len(g)), "known_probes": int(len(p)), "unknown_probes": int(len(u))}
    if per_probe:
        out["probe_correct"] = correct.tolist()
    return out


# ---- protocol files --------------------------------------------------------------------------

@dataclass
class VerificationProtocol:
    """LFW's verification pair lists, checked against their headers."""
    devtrain: list[Pair]
    devtest: list[Pair]
    view2: list[Pair]
    view2_folds: int
    view2_fold_size: int  # consecutive lines per fold (same pairs then different pairs)

    def view2_fold_ids(self) -> np.ndarray:
        return np.arange(len(self.view2)) // self.view2_fold_size


@dataclass
class IdentificationSplit:
    """Who is enrolled from which image, and which images probe the gallery."""
    gallery_paths: list[str]
    gallery_labels: list[str]
    probe_paths: list[str]
    probe_labels: list[str]
    unknown_paths: list[str]
    unknown_labels: list[str] = field(default_factory=list)  # for reports only, never matched


def _protocol_file(lfw_dir: str | os.PathLike, name: str) -> Path:
    path = Path(lfw_dir) / "protocol" / name
    if not path.is_file():
        raise DatasetError(f"LFW protocol file {path} not found: point to an LFW folder that "
                           f"holds images/ and protocol/{name}.")
    return path


def _header(path: Path) -> list[int]:
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
        return [int(x) for x in first.split()]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path} is not an LFW protocol file (bad header line).") from exc


def _read_pairs_checked(path: Path) -> tuple[list[Pair], int, int]:
    """Pairs plus (folds, pairs per fold), verified against the header: `n` (View 1: n same
    then n different) or `folds<TAB>n` (View 2: folds × (n same then n different)). A count
    mismatch means a truncated or edited file, which would silently skew every number."""
    head = _header(path)
    if len(head) == 1:
        folds, n = 1, head[0]
    elif len(head) == 2:
        folds, n = head
    else:
        raise DatasetError(f"{path} is not an LFW pairs file (header {head}).")
    try:
        pairs = read_pairs(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable LFW pairs file: {exc}") from exc
    size = 2 * n
    if n <= 0 or len(pairs) != folds * size:
        raise DatasetError(f"{path} should hold {folds * size} pairs according to its header "
                           f"but {len(pairs)} were read; the file is damaged.")
    for f in range(folds):
        chunk = pairs[f * size:(f + 1) * size]
        if sum(p[4] for p in chunk) != n:
            raise DatasetError(f"{path}: fold {f + 1} does not hold {n} same-person pairs.")
    return pairs, folds, size


def read_people_counts(path: str | os.PathLike) -> list[tuple[str, int]]:
    """(name, image count) per line of an LFW `peopleDev*.txt` (header: number of people).
    `datasets.read_people_file` keeps only the names; identification needs the counts."""
    path = Path(path)
    head = _header(path)
    if len(head) != 1:
        raise DatasetError(f"{path} is not an LFW peopleDev file (header {head}).")
    people: list[tuple[str, int]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} cannot be read: {exc}") from exc
    for lineno, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        parts = line.strip().split("\t")
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) < 1:
            raise DatasetError(f"{path}, line {lineno}: expected 'name<TAB>image count'.")
        people.append((parts[0], int(parts[1])))
    if len(people) != head[0]:
        raise DatasetError(f"{path} lists {len(people)} people but its header says {head[0]}.")
    return people


def _require_files(paths: Sequence[str], where: str | os.PathLike) -> None:
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DatasetError(f"{len(missing)} image(s) named by the protocol are missing under "
                           f"{where} (first: {missing[0]}).")


def load_verification_protocol(lfw_dir: str | os.PathLike, check_images: bool = True
                               ) -> VerificationProtocol:
    """pairsDevTrain.txt, pairsDevTest.txt and pairs.txt of an LFW folder, checked; with
    check_images, every image they name must exist (a missing file would otherwise be
    embedded as a blank and quietly lower the score)."""
    devtrain, _, _ = _read_pairs_checked(_protocol_file(lfw_dir, "pairsDevTrain.txt"))
    devtest, _, _ = _read_pairs_checked(_protocol_file(lfw_dir, "pairsDevTest.txt"))
    view2, folds, size = _read_pairs_checked(_protocol_file(lfw_dir, "pairs.txt"))
    if folds < 2:
        raise DatasetError(f"{Path(lfw_dir) / 'protocol' / 'pairs.txt'} needs at least two folds.")
    proto = VerificationProtocol(devtrain, devtest, view2, folds, size)
    if check_images:
        _require_files(_pair_images(lfw_dir, devtrain + devtest + view2), Path(lfw_dir) / "images")
    return proto


def _pair_images(lfw_dir: str | os.PathLike, pairs: Sequence[Pair]) -> list[str]:
    """Distinct image paths in the pairs, sorted: each image is embedded once."""
    return sorted({lfw_image_path(lfw_dir, name, n)
                   for a, i, b, j, _ in pairs for name, n in ((a, i), (b, j))})


def lfw_identification_split(lfw_dir: str | os.PathLike, check_images: bool = True
                             ) -> IdentificationSplit:
    """The people of protocol/peopleDevTest.txt (none seen in training): each person with ≥2
    images is enrolled from image 1 and probes with the others; people with one image are
    unknown probes (strangers the app must not name)."""
    people = read_people_counts(_protocol_file(lfw_dir, "peopleDevTest.txt"))
    split = IdentificationSplit([], [], [], [], [], [])
    for name, count in people:
        if count >= 2:
            split.gallery_paths.append(lfw_image_path(lfw_dir, name, 1))
            split.gallery_labels.append(name)
            for n in range(2, count + 1):
                split.probe_paths.append(lfw_image_path(lfw_dir, name, n))
                split.probe_labels.append(name)
        else:
            split.unknown_paths.append(lfw_image_path(lfw_dir, name, 1))
            split.unknown_labels.append(name)
    if check_images:
        _require_files(split.gallery_paths + split.probe_paths + split.unknown_paths,
                       Path(lfw_dir) / "images")
    return split


def folder_identification_split(folder: str | os.PathLike) -> IdentificationSplit:
    """Any folder-per-person tree (an LFW root works too): each person's first image by sorted
    file name is enrolled and the rest probe; people with one image are unknown probes."""
    images = scan_identity_folders([folder])
    split = IdentificationSplit([], [], [], [], [], [])
    by_label: dict[int, list[str]] = {}
    for path, label in zip(images.paths, images.labels.tolist()):
        by_label.setdefault(label, []).append(path)
    for label, files in by_label.items():
        name = images.names[label]
        files = sorted(files, key=lambda p: Path(p).name)
        if len(files) >= 2:
            split.gallery_paths.append(files[0])
            split.gallery_labels.append(name)
            split.probe_paths.extend(files[1:])
            split.probe_labels.extend([name] * (len(files) - 1))
        else:
            split.unknown_paths.append(files[0])
            split.unknown_labels.append(name)
    return split


# ---- protocols -------------------------------------------------------------------------------

def _split_of(lfw_dir: str | os.PathLike | None, folder: str | os.PathLike | None
              ) -> tuple[IdentificationSplit, str]:
    """The identification split of LFW's DevTest people or of a folder tree, and what it was read from."""
    if lfw_dir is not None:
        return lfw_identification_split(lfw_dir), str(Path(lfw_dir) / "protocol" / "peopleDevTest.txt")
    if folder is None:
        raise ValueError("Give exactly one of lfw_dir or folder.")
    return folder_identification_split(folder), str(folder)


def _embed(embed_paths: EmbedPaths, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    emb, found = embed_paths(list(paths))
    emb = np.asarray(emb)
    found = np.asarray(found).astype(bool).ravel()
    if emb.ndim != 2 or len(emb) != len(paths) or found.shape != (len(paths),):
        raise ValueError(f"embed_paths returned shapes {emb.shape} and {found.shape} for "
                         f"{len(paths)} images.")
    if not np.all(np.isfinite(emb)):
        raise ModelError("The model produced non-finite embeddings; the weights are damaged.")
    return emb, found


def _pair_distances(pairs: Sequence[Pair], lfw_dir: str | os.PathLike, emb: np.ndarray,
                    index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([index[lfw_image_path(lfw_dir, p[0], p[1])] for p in pairs], dtype=np.int64)
    b = np.array([index[lfw_image_path(lfw_dir, p[2], p[3])] for p in pairs], dtype=np.int64)
    d = pair_distances(emb[a], emb[b])
    return d, np.array([p[4] for p in pairs], dtype=bool)


def evaluate_verification(lfw_dir: str | os.PathLike, embed_paths: EmbedPaths,
                          progress: ProgressFn = no_progress,
                          cancel: CancelToken | None = None) -> dict:
    """LFW verification: View 1 (τ from DevTrain, scored on DevTest) and View 2 (10 folds).

    Keys: devtest_accuracy, devtest_auc, devtest_tar_at_far_1e-2 (TAR at FAR 1e-2 with τ set
    on DevTest's own impostors: an operating-point figure, not a deployable τ), tau_devtrain,
    view2_accuracy_mean, view2_accuracy_std (population std over folds), view2_accuracy_per_fold,
    devtrain_pairs, devtest_pairs, view2_pairs, images (distinct images embedded once for all
    three files) and missed_detections (of those, how many the detector missed; they were
    embedded from the fallback box).
    """
    steps = 3
    progress(0, steps, "reading LFW protocol")
    proto = load_verification_protocol(lfw_dir)
    paths = _pair_images(lfw_dir, proto.devtrain + proto.devtest + proto.view2)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(1, steps, f"embedding {len(paths)} images")
    emb, found = _embed(embed_paths, paths)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(2, steps, "verification metrics")
    index = {p: i for i, p in enumerate(paths)}
    d_train, s_train = _pair_distances(proto.devtrain, lfw_dir, emb, index)
    d_test, s_test = _pair_distances(proto.devtest, lfw_dir, emb, index)
    d_v2, s_v2 = _pair_distances(proto.view2, lfw_dir, emb, index)
    tau = best_threshold(d_train, s_train)
    tar, _ = tar_at_far(d_test, s_test, REPORT_FAR)
    mean, std, per_fold = kfold_accuracy(d_v2, s_v2, proto.view2_fold_ids())
    result = {
        "devtest_accuracy": accuracy(d_test, s_test, tau),
        "devtest_auc": auc(d_test, s_test),
        f"devtest_tar_at_far_{far_label(REPORT_FAR)}": tar,
        "tau_devtrain": tau,
        "view2_accuracy_mean": mean,
        "view2_accuracy_std": std,
        "view2_accuracy_per_fold": [float(x) for x in per_fold],
        "devtrain_pairs": len(proto.devtrain),
        "devtest_pairs": len(proto.devtest),
        "view2_pairs": len(proto.view2),
        "missed_detections": int((~found).sum()),
        "images": len(paths),
    }
    progress(steps, steps, "verification done")
    return result


def evaluate_identification(lfw_dir: str | os.PathLike | None = None,
                            folder: str | os.PathLike | None = None,
                            embed_paths: EmbedPaths | None = None,
                            progress: ProgressFn = no_progress,
                            cancel: CancelToken | None = None,
                            far_target: float = REPORT_FAR,
                            embed_enrolment_paths: EmbedPaths | None = None) -> dict:
    """One-shot open-set identification, one enrolment image per person, as the app is used.

    `embed_enrolment_paths`, when given, embeds the enrolment images the way the app enrols
    (`Encoder.embed_enrolment`); probes always go through `embed_paths`, as live faces do.

    Exactly one source: `lfw_dir` (the peopleDevTest.txt people, see `lfw_identification_split`)
    or `folder` (any folder-per-person tree, see `folder_identification_split`). Keys:
    oneshot_rank1, oneshot_dir_at_far_1e-2 (None when nobody has a single image, so there are
    no strangers to set τ), dir_threshold, enrolled, known_probes, unknown_probes, images,
    missed_detections (images whose face the detector missed; embedded from the fallback box).
    """
    if (lfw_dir is None) == (folder is None):
        raise ValueError("Give exactly one of lfw_dir or folder.")
    if embed_paths is None:
        raise ValueError("embed_paths is required.")
    steps = 3
    progress(0, steps, "reading identities")
    split, source = _split_of(lfw_dir, folder)
    if not split.probe_paths:
        raise DatasetError(f"No person in {source} has two or more images, so nobody can be "
                           f"enrolled and then recognised from another photo.")
    separate = embed_enrolment_paths is not None  # then enrolment images are embedded once, its way
    live = set(split.probe_paths) | set(split.unknown_paths)
    paths = sorted(live if separate else live | set(split.gallery_paths))
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(1, steps, f"embedding {len(paths)} images")
    emb, found = _embed(embed_paths, paths)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(2, steps, "identification metrics")
    index = {p: i for i, p in enumerate(paths)}

    def rows(ps: list[str]) -> np.ndarray:
        return emb[np.array([index[p] for p in ps], dtype=np.int64)].reshape(len(ps), emb.shape[1])

    missed = int((~found).sum())
    if embed_enrolment_paths is not None:  # `separate`
        gallery, gallery_found = _embed(embed_enrolment_paths, list(split.gallery_paths))
        missed += int((~gallery_found).sum())
    else:
        gallery = rows(split.gallery_paths)
    ident = one_shot_identification(gallery, split.gallery_labels,
                                    rows(split.probe_paths), split.probe_labels,
                                    rows(split.unknown_paths), far_target, cancel=cancel)
    result = {
        "oneshot_rank1": ident["oneshot_rank1"],
        f"oneshot_dir_at_far_{far_label(far_target)}":
            ident[f"oneshot_dir_at_far_{far_label(far_target)}"],
        "dir_threshold": ident["dir_threshold"],
        "enrolled": len(split.gallery_paths),
        "known_probes": len(split.probe_paths),
        "unknown_probes": len(split.unknown_paths),
        "images": len(paths) + (len(split.gallery_paths) if separate else 0),
        "missed_detections": missed,
    }
    progress(steps, steps, "identification done")
    return result


# ---- open-set identification at the app's own operating point --------------------------------

OPEN_SET_SIZES = (10, 100)  # gallery sizes drawn at random; everyone with >= 2 images is added
OPEN_SET_DRAWS = 20         # random galleries per small size (one for everyone)
OPEN_SET_SEED = 0
OPEN_SET_SEEN_SHARE = 0.5   # of the people not enrolled in a draw: shown unlabelled, never scored
# (shipped τ, enrolled embeddings, unlabelled seen faces or None) -> the τ the adapted app uses
AdaptThreshold = Callable[[float, np.ndarray, "np.ndarray | None"], float]


def open_set_identification(enrol_emb: np.ndarray, people: Sequence[str], probe_emb: np.ndarray,
                            probe_people: Sequence[str], stranger_emb: np.ndarray,
                            first_live_emb: np.ndarray, decide_threshold: Callable[[Matcher], float],
                            sizes: Sequence[int] = OPEN_SET_SIZES, draws: int = OPEN_SET_DRAWS,
                            seed: int = OPEN_SET_SEED, far_target: float = REPORT_FAR,
                            cancel: CancelToken | None = None, scorer: CohortScorer | None = None,
                            adapt: AdaptThreshold | None = None, seen_share: float = OPEN_SET_SEEN_SHARE) -> dict:
    """Open-set identification with galleries of several sizes, decided as the app decides.

    `enrol_emb[i]` is person `people[i]` enrolled from their first image (as the app enrols),
    `first_live_emb[i]` the same image embedded as a live face; `probe_emb` their other images
    (live), owned by `probe_people`; `stranger_emb` the images of people who are never enrolled.
    For each size N (and N = everyone), galleries of N people are drawn at random (`draws` of
    them, one for everyone; fixed seed): their other images are known probes, and every image of
    every person not drawn is a stranger. `decide_threshold(matcher)` is the τ the app would use
    for that gallery (`open_set.threshold_for`), and `Matcher.match` decides (cohort-normalised
    with the model's `scorer`, as the app), so these are the figures of the rule users get. Keys per N, counts pooled over draws:
    `tpir_at_default_N` (known probes named right and accepted), `fpir_at_default_N` (strangers
    given any name), `tpir_at_fpir_1e-2_N` (right and accepted when τ is set per draw so that
    at most 1% of that draw's strangers are named), `threshold_default_N` (mean τ over draws),
    `known_probes_N`, `strangers_N`, `draws_N`; and `sizes`.

    With `adapt(tau, enrolled, seen)` (the app's domain adaptation, `open_set.adapted_threshold`),
    each draw models what the app would have: of the people not drawn, a `seen_share` (drawn at
    random, apart from the galleries' draws) are "faces the camera has seen" — all their images
    handed to `adapt` as unlabelled faces, never scored — and only the remaining people are scored
    as strangers. `fpir/tpir_at_default_N` are then the shipped table's on those strangers,
    `..._enrolled_N` the adaptation from the enrolled photos alone and `..._adapted_N` from the
    enrolled photos and the seen faces. No scored stranger's image informs the τ that scores it.
    """
    e = _as_matrix(enrol_emb, "enrol_emb")
    dim = e.shape[1]
    p = _as_matrix(probe_emb, "probe_emb", dim)
    s = _as_matrix(stranger_emb, "stranger_emb", dim)
    f = _as_matrix(first_live_emb, "first_live_emb", dim)
    people = list(people)
    if len(people) != len(e) or len(f) != len(e) or len(set(people)) != len(people):
        raise ValueError("One enrolment and one live embedding per person, each person once.")
    index = {name: i for i, name in enumerate(people)}
    try:
        owner = np.array([index[n] for n in probe_people], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"Probe of {exc.args[0]!r}, who has no enrolment image.") from None
    if len(owner) != len(p):
        raise ValueError("Each probe needs exactly one owner.")
    total = len(people)
    wanted = sorted({int(n) for n in sizes if 0 < int(n) < total} | {total})
    rng = np.random.default_rng(seed)
    seen_rng = np.random.default_rng(seed + 1)
    far_key = far_label(far_target)
    out: dict = {"sizes": wanted}
    if adapt is not None:
        out["seen_share"] = seen_share
    for n in wanted:
        tp = fp = tp_far = known = strangers = 0
        taus = []
        a_hits: dict[str, list[int]] = {"enrolled": [0, 0], "adapted": [0, 0]}  # right names, strangers named
        a_taus: dict[str, list[float]] = {"enrolled": [], "adapted": []}
        for _ in range(1 if n == total else draws):
            if cancel is not None:
                cancel.raise_if_cancelled()
            drawn = np.sort(rng.choice(total, n, replace=False)) if n < total else np.arange(total)
            inside = np.zeros(total, dtype=bool)
            inside[drawn] = True
            matcher = Matcher(e[drawn], drawn, {int(i): people[i] for i in drawn}, scorer)
            tau = float(decide_threshold(matcher))
            taus.append(tau)
            k = inside[owner]
            q_known, q_owner = p[k], owner[k]
            scored = ~inside
            seen_faces = None
            if adapt is not None:
                outside = np.nonzero(~inside)[0]
                m_seen = int(round(len(outside) * seen_share))
                seen_people = seen_rng.choice(outside, m_seen, replace=False) if m_seen else outside[:0]
                is_seen = np.zeros(total, dtype=bool)
                is_seen[seen_people] = True
                scored = ~inside & ~is_seen
                seen_faces = np.concatenate([p[is_seen[owner]], f[is_seen]])
            q_strange = np.concatenate([s, p[scored[owner]], f[scored]])
            if len(q_known) == 0 or len(q_strange) == 0:
                continue
            if adapt is not None:
                for key, seen_arg in (("enrolled", None), ("adapted", seen_faces)):
                    t_a = float(adapt(tau, e[drawn], seen_arg))
                    a_hits[key][0] += sum(m.person_id == o for m, o in zip(matcher.match(q_known, t_a),
                                                                            q_owner.tolist()))
                    a_hits[key][1] += sum(m.known for m in matcher.match(q_strange, t_a))
                    a_taus[key].append(t_a)
            # the app's decision at its default: accepted and right / strangers accepted
            tp += sum(m.person_id == o for m, o in zip(matcher.match(q_known, tau), q_owner.tolist()))
            fp += sum(m.known for m in matcher.match(q_strange, tau))
            # the same rule with τ moved until at most far_target of these strangers are named
            ids_k, dist_k = matcher.nearest(q_known)
            _, dist_s = matcher.nearest(q_strange)
            t_far = threshold_at_far(dist_s, far_target)
            tp_far += int(np.sum((ids_k == q_owner) & (dist_k < t_far)))
            known += len(q_known)
            strangers += len(q_strange)
        out[f"tpir_at_default_{n}"] = tp / known if known else None
        out[f"fpir_at_default_{n}"] = fp / strangers if strangers else None
        out[f"tpir_at_fpir_{far_key}_{n}"] = tp_far / known if known else None
        out[f"threshold_default_{n}"] = float(np.mean(taus)) if taus else None
        out[f"known_probes_{n}"] = known
        out[f"strangers_{n}"] = strangers
        out[f"draws_{n}"] = len(taus)
        if adapt is not None:
            for key, (a_tp, a_fp) in a_hits.items():
                out[f"tpir_at_default_{key}_{n}"] = a_tp / known if known else None
                out[f"fpir_at_default_{key}_{n}"] = a_fp / strangers if strangers else None
                out[f"threshold_default_{key}_{n}"] = float(np.mean(a_taus[key])) if a_taus[key] else None
    return out


def evaluate_open_set(lfw_dir: str | os.PathLike | None = None, folder: str | os.PathLike | None = None,
                      embed_paths: EmbedPaths | None = None,
                      embed_enrolment_paths: EmbedPaths | None = None,
                      decide_threshold: Callable[[Matcher], float] | None = None,
                      progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
                      sizes: Sequence[int] = OPEN_SET_SIZES, draws: int = OPEN_SET_DRAWS,
                      seed: int = OPEN_SET_SEED, scorer: CohortScorer | None = None,
                      adapt: AdaptThreshold | None = None) -> dict:
    """`open_set_identification` on the DevTest people of LFW or on a folder-per-person tree (the
    same splits as `evaluate_identification`): every image is embedded as a live face, and the
    first image of each person with two or more also as the app enrols it."""
    if (lfw_dir is None) == (folder is None):
        raise ValueError("Give exactly one of lfw_dir or folder.")
    if embed_paths is None or embed_enrolment_paths is None or decide_threshold is None:
        raise ValueError("embed_paths, embed_enrolment_paths and decide_threshold are required.")
    steps = 4
    progress(0, steps, "reading identities")
    split, source = _split_of(lfw_dir, folder)
    if len(split.gallery_paths) < 2:
        raise DatasetError(f"Fewer than two people in {source} have two or more images: an open-set "
                           f"evaluation needs people to enrol and people to stay strangers.")
    live_paths = sorted(set(split.gallery_paths) | set(split.probe_paths) | set(split.unknown_paths))
    progress(1, steps, f"embedding {len(live_paths)} images as live faces")
    emb, found = _embed(embed_paths, live_paths)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(2, steps, f"embedding {len(split.gallery_paths)} enrolment images")
    enrol, _ = _embed(embed_enrolment_paths, list(split.gallery_paths))  # misses: counted among the live
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(3, steps, "open-set metrics")
    index = {p: i for i, p in enumerate(live_paths)}

    def rows(ps: list[str]) -> np.ndarray:
        return emb[np.array([index[p] for p in ps], dtype=np.int64)].reshape(len(ps), emb.shape[1])

    result = open_set_identification(enrol, split.gallery_labels, rows(split.probe_paths), split.probe_labels,
                                     rows(split.unknown_paths), rows(split.gallery_paths), decide_threshold,
                                     sizes, draws, seed, cancel=cancel, scorer=scorer, adapt=adapt)
    result.update({"enrolled_people": len(split.gallery_paths), "known_probes": len(split.probe_paths),
                   "single_image_strangers": len(split.unknown_paths), "images": len(live_paths),
                   "missed_detections": int((~found).sum()), "seed": seed})
    progress(steps, steps, "open-set done")
    return result
