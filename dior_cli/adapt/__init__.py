"""``dior adapt``: fine-tune the appearance encoder on a video's own detections (ReMOTS sec. 2.2-2.4)."""
