"""The ``infer`` stage: frames or a video in, ``DETS/<seq>.json`` + ``DETS/<seq>.npy`` out.

- ``stage``: the entry (``run``), which picks the path, and the DIOR-network path;
- ``detector``: YOLOX-nano boxes, box -> mask, OSNet embeddings (a fresh install's default);
- ``given``: detections made elsewhere, fused by IoM-NMS and embedded;
- ``encoders``: the encoders of given detections (OSNet on box crops, the DIOR head);
- ``options``: ``InferOptions``, shared by the three paths.
"""
