"""Media service: dashcam pictures and videos (issue 9)."""
