// Embedding crops with the feature model: batched pre-processing straight into
// the input tensor, the output tensor chosen by the card, L2-normalised.
#pragma once
#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cancel.h"
#include "model_session.h"
#include "preprocess.h"
#include "stage_times.h"

namespace shitu {

struct FeatureSpec {
  PreprocessSpec pre;
  std::string inputName, outputName;  // empty = the only 4-d input / the only output
  int maxBatch = 32;                  // capped at 1 when the model's batch is fixed
  bool normalize = true;
};

class FeatureExtractor {
 public:
  FeatureExtractor(std::shared_ptr<ModelSession> model, FeatureSpec spec);
  // Returns crops.size() * dim() floats, row-major. `cancel` is checked before
  // each Run (ERR_ABORTED).
  std::vector<float> Extract(const std::vector<cv::Mat>& crops, StageTimes* times,
                             const CancelFlag& cancel = CancelFlag()) const;
  // The two halves of Extract, for the cross-recognition batcher:
  // values per pre-processed crop (3 * H * W),
  size_t inputSize() const { return 3 * static_cast<size_t>(spec_.pre.width) * spec_.pre.height; }
  // crops into `dst` (crops.size() * inputSize() floats),
  void PreprocessAll(const std::vector<cv::Mat>& crops, float* dst) const;
  // and `rows` pre-processed crops through the model (Runs of at most maxBatch
  // rows) into `out` (rows * dim floats, normalised if the card says so).
  void RunPreprocessed(float* input, size_t rows, float* out, StageTimes* times) const;
  int dim() const { return dim_; }
  const FeatureSpec& spec() const { return spec_; }

 private:
  std::shared_ptr<ModelSession> model_;
  FeatureSpec spec_;
  int dim_ = 0;
  bool fixedBatch_ = false;
};

// In place; an all-zero (or non-finite) vector becomes all zeros instead of NaN.
void L2Normalize(float* v, int dim);

}  // namespace shitu
