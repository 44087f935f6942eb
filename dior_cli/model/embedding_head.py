"""Spatial attention (SA) and the embedding head (DIOR sec. 3.2-3.3).

For the RoI features ``F_i (K, C, 14, 14)`` of K objects (pooled from F_tem by the mask RoI
pooler):

    beta_i  = sigmoid(phi_1(F_i))                          (K, 1, 14, 14)   eq. (3)
    F_spa   = phi_2(F_i) (+) beta_i * phi_2(F_i)            (K, 2*Cc, 14, 14) eq. (4), Cc = 256
    e_i     = normalize(FC(avgpool(F_spa)))                 (K, D)

phi_1 is the mask head's convolutions (the very module ``roi_heads.mask_head``, shared, so
the SA map learns from both the mask loss and the embedding loss) followed by a 1x1 conv
to one channel; phi_2 is the embedding head's own four 3x3 convolutions. Embeddings are
L2-normalised rows, compared by cosine downstream.

``loss_emb`` (sec. 3.3) is the cross-entropy of an identity classifier over RoIs whose
identity is known (label >= 0; -1 = unknown), in one of two forms (:class:`IdentityClassifier`):

    linear:  logits = W e_i + b                                (K, C)   DIOR's linear layer
    cosine:  logits = s * normalize(W) e_i                     (K, C)   NormFace / AdaCos

with W ``(C, D)`` the weight of ``identity_classifier`` (one row per identity) and b its bias.
Since e_i has unit length, the linear form's logits are bounded by the small norms of W's rows,
so its softmax stays flat and the loss falls slowly; the cosine form puts every logit in
[-s, s] with the scale s either fixed or learned (``identity_logit_scale``). Both forms share
the state-dict keys ``identity_classifier.weight`` / ``.bias`` (the cosine form leaves the
bias unused and frozen) and ``identity_logit_scale`` (frozen unless learned), so a checkpoint
loads whichever form trained it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads

UNKNOWN_IDENTITY = -1
SCALE_KEY = "identity_logit_scale"  # the head's own state-dict key of the cosine form's scale s


@dataclass(frozen=True)
class IdentityClassifier:
    """Which classifier ``loss_emb`` uses (see the module docstring).

    Attributes:
        kind: ``linear`` (W e + b) or ``cosine`` (s x cosine with a unit row of W per identity).
        scale: cosine: s, or ``None`` for ``adacos_scale(C)``: sqrt(2) ln(C - 1), AdaCos's fixed
            scale for C identities (Zhang et al. 2019, eq. 14).
        learned: cosine: s is a parameter trained with the rest, starting at ``scale``;
            otherwise it stays at ``scale``.
    """

    kind: Literal["linear", "cosine"] = "linear"
    scale: float | None = None
    learned: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "cosine"):
            raise ValueError(f"identity classifier: kind must be linear or cosine, got {self.kind!r}")
        if self.scale is not None and not (0 < self.scale < 1000):
            raise ValueError(f"identity classifier: scale must be in (0, 1000), got {self.scale}")


def adacos_scale(num_identities: int) -> float:
    """AdaCos's fixed scale sqrt(2) ln(C - 1) for C classes (C - 1 taken as at least 2, so s > 0)."""
    return math.sqrt(2.0) * math.log(max(num_identities - 1, 2))


class SpatialAttentionEmbeddingHead(nn.Module):
    """RoI features ``(K, C, 14, 14)`` -> unit embeddings ``(K, embedding_dim)``.

    Args:
        mask_head: the mask head's convolution trunk (phi_1's shared part), output
            ``(K, mask_channels, 14, 14)``. It is referenced, not registered, so its weights
            keep their one name ``roi_heads.mask_head.*`` in state dicts.
        in_channels: channels of the RoI features (the FPN's, 256 in Mask R-CNN).
        mask_channels: channels the mask head outputs.
        conv_channels: channels of phi_2's convolutions (256 in DIOR).
        conv_layers: number of 3x3 conv + ReLU layers of phi_2 (conv_channels each).
        pool_size: side to which F_spa is average-pooled before the fully connected layers.
        fc_dim: width of the hidden fully connected layer.
        embedding_dim: length D of the embeddings.
        num_identities: classes of the identity classifier for ``loss_emb`` (0 = none).
        classifier: which form ``loss_emb`` uses (training only; inference never calls it).
    """

    def __init__(
        self,
        mask_head: nn.Module,
        *,
        in_channels: int = 256,
        mask_channels: int = 256,
        conv_channels: int = 256,
        conv_layers: int = 4,
        pool_size: int = 7,
        fc_dim: int = 1024,
        embedding_dim: int = 1024,
        num_identities: int = 0,
        classifier: IdentityClassifier | None = None,
    ) -> None:
        super().__init__()
        object.__setattr__(self, "_mask_head", mask_head)  # shared with roi_heads, deliberately unregistered
        self.attention_logit = nn.Conv2d(mask_channels, 1, kernel_size=1)  # end of phi_1
        self.convs = MaskRCNNHeads(in_channels, [conv_channels] * conv_layers, dilation=1)  # phi_2
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * conv_channels * pool_size**2, fc_dim),
            nn.ReLU(inplace=True),
            nn.Linear(fc_dim, embedding_dim),
        )
        self.classifier = classifier if classifier is not None else IdentityClassifier()
        self.identity_classifier = nn.Linear(embedding_dim, num_identities) if num_identities > 0 else None
        self.identity_logit_scale = None
        if self.identity_classifier is not None:
            cosine = self.classifier.kind == "cosine"
            scale = self.classifier.scale if self.classifier.scale is not None else adacos_scale(num_identities)
            self.identity_logit_scale = nn.Parameter(torch.tensor(float(scale)), requires_grad=cosine and self.classifier.learned)  # ()
            self.identity_classifier.bias.requires_grad_(not cosine)  # the cosine form has no bias

    @property
    def mask_head(self) -> nn.Module:
        """The shared mask head (the same object as ``roi_heads.mask_head``)."""
        return self._mask_head

    def spatial_attention(self, roi_features: Tensor, mask_features: Tensor | None = None) -> Tensor:
        """The SA map beta ``(K, 1, 14, 14)`` in (0, 1).

        Args:
            roi_features: ``F_i (K, C, 14, 14)``.
            mask_features: ``mask_head(F_i)`` when already computed (inference reuses the
                mask branch's own pass); computed here otherwise.
        """
        if mask_features is None:
            mask_features = self._mask_head(roi_features)  # (K, mask_channels, 14, 14)
        return torch.sigmoid(self.attention_logit(mask_features))  # (K, 1, 14, 14)

    def forward(self, roi_features: Tensor, mask_features: Tensor | None = None, attention: Tensor | None = None) -> Tensor:
        """Embed K RoIs.

        Args:
            roi_features: ``F_i (K, C, 14, 14)`` from the mask RoI pooler.
            mask_features: optional ``mask_head(F_i) (K, mask_channels, 14, 14)`` (see ``spatial_attention``).
            attention: optional beta ``(K, 1, 14, 14)`` in [0, 1] used instead of
                ``sigmoid(phi_1(F_i))``: a mask given from elsewhere, RoI-aligned onto the
                same bins as ``F_i`` (``dior_cli.model.given``). ``mask_features`` is then unused.

        Returns:
            ``(K, embedding_dim)`` float rows of unit L2 norm (``(0, D)`` when K = 0).
        """
        if attention is None:
            beta = self.spatial_attention(roi_features, mask_features)  # (K, 1, 14, 14)
        else:
            expected = (roi_features.shape[0], 1, *roi_features.shape[-2:])
            if tuple(attention.shape) != expected:
                raise ValueError(f"attention: expected shape {expected}, got {tuple(attention.shape)}")
            beta = attention.to(roi_features.dtype)  # (K, 1, 14, 14)
        appearance = self.convs(roi_features)  # phi_2(F_i): (K, conv_channels, 14, 14)
        spa = torch.cat([appearance, beta * appearance], dim=1)  # F_spa: (K, 2 * conv_channels, 14, 14)
        hidden = self.fc(self.pool(spa))  # (K, 2 * conv_channels, s, s) -> (K, D)
        return F.normalize(hidden, dim=1)  # (K, D), unit rows

    def identity_loss(self, embeddings: Tensor, identities: Tensor) -> Tensor:
        """``loss_emb``: cross-entropy of the identity classifier over RoIs with a known identity.

        Args:
            embeddings: ``(K, D)`` from ``forward``.
            identities: ``(K,)`` int64 in ``[0, num_identities)``, or -1 for unknown.

        Returns:
            A scalar. With no classifier or no known identity it is an exact zero that still
            has a grad_fn (so ``sum(losses).backward()`` always works).
        """
        if identities.shape != embeddings.shape[:1]:
            raise ValueError(f"identities: expected shape ({embeddings.shape[0]},), got {tuple(identities.shape)}")
        if self.identity_classifier is None:
            return embeddings.sum() * 0.0
        known = identities != UNKNOWN_IDENTITY  # (K,) bool
        num_identities = self.identity_classifier.out_features
        if bool(((identities[known] < 0) | (identities[known] >= num_identities)).any()):
            raise ValueError(f"identities must be -1 or in [0, {num_identities}), got {identities[known].tolist()}")
        logits = self.identity_logits(embeddings[known])  # (K_known, num_identities)
        if logits.shape[0] == 0:
            return logits.sum() * 0.0
        return F.cross_entropy(logits, identities[known])

    def identity_logits(self, embeddings: Tensor) -> Tensor:
        """The classifier's logits ``(K, C)`` for unit embeddings ``(K, D)`` (see the module docstring)."""
        if self.classifier.kind == "linear":
            return self.identity_classifier(embeddings)  # (K, C)
        prototypes = F.normalize(self.identity_classifier.weight, dim=1)  # (C, D), unit rows
        return self.identity_logit_scale * (F.normalize(embeddings, dim=1) @ prototypes.T)  # (K, C), in [-s, s]


def add_missing_scale(state_dict: dict[str, Tensor], head: SpatialAttentionEmbeddingHead, prefix: str) -> dict[str, Tensor]:
    """``state_dict`` with ``prefix + SCALE_KEY`` added from ``head`` where a checkpoint written
    before the key existed lacks it (those were trained with the linear form, which ignores it)."""
    key = prefix + SCALE_KEY
    if head.identity_logit_scale is None or key in state_dict:
        return state_dict
    return {**state_dict, key: head.identity_logit_scale.detach().clone()}
