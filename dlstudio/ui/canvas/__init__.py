"""The canvas: a QGraphicsScene built from model signals, its items, the view and the gestures."""
