// Written by scripts/build-gallery from gallery/gallery.json; do not edit.
let galleryJSON = #"""
{"model": "arbitrary_predict.onnx", "styleSize": 256, "styles": []}
"""#
