// One recognition of one image, entirely native: decode -> detect -> crop ->
// embed (one batch) -> search. The index is reached through a callback so this
// file needs no FAISS.
#pragma once
#include <opencv2/core.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "cancel.h"
#include "detector.h"
#include "feature_batcher.h"
#include "feature_extractor.h"
#include "image_decode.h"
#include "stage_times.h"

namespace shitu {

// queries: nq*dim floats; fills ids/scores (nq*k each, -1 ids for none).
using SearchFn = std::function<void(const std::vector<float>& queries, int nq, int k,
                                    std::vector<int64_t>& ids, std::vector<float>& scores)>;

struct RecognizeOptions {
  float detThreshold = -1;  // < 0: the detector's own
  int topk = 5;
  bool keepImage = false;   // return the decoded picture (for drawing)
  bool keepFeatures = false;
  // Decode a large JPEG at 1/2, 1/4 or 1/8 scale when the reduced picture still
  // covers the detector's input (kReducedDecodeCover of each side): boxes come
  // back in full-picture pixels, crops are taken from the reduced picture.
  // Ignored with keepImage (drawing wants the full picture).
  bool reducedDecode = false;
  // Crops batched with other recognitions' (feature_batcher.h) when enabled
  // and Recognize is given the extractor's batcher.
  BatchingOptions batching;
  // Checked before decoding, after decoding, after detection and before each
  // feature batch: a set flag fails the recognition with ERR_ABORTED.
  CancelFlag cancel;
};

// How much of the detector's input side a reduced picture must still cover.
// The detector resizes the picture to its input anyway; below 1 the reduced
// picture is slightly upsampled there (e.g. 810x1080 at 1/2 is 405x540 for 416x416).
inline constexpr double kReducedDecodeCover = 0.9;

struct BoxResult {
  Detection det;
  std::vector<int64_t> ids;   // best first, ids < 0 dropped
  std::vector<float> scores;
};

struct RecognizeResult {
  int width = 0, height = 0;
  std::vector<BoxResult> boxes;
  std::vector<float> features;  // keepFeatures: boxes.size() * dim
  int dim = 0;
  cv::Mat image;                // keepImage
  StageTimes times;
};

// Crop of a box with integer coordinates (truncated, as the reference does), at least 1x1.
cv::Mat CropBox(const cv::Mat& img, const Detection& d);

// batcher: the extractor's (null: this recognition's crops run on their own).
RecognizeResult Recognize(const ImageSource& src, const Detector& detector, const FeatureExtractor& extractor,
                          const SearchFn* search, const RecognizeOptions& options, FeatureBatcher* batcher = nullptr);

}  // namespace shitu
