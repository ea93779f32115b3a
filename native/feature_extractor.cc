#include "feature_extractor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

#include "errors.h"

namespace shitu {

static ShituError Contract(const ModelSession& m, const std::string& what) {
  return ShituError(kErrModelContract, "feature model '" + m.path() + "': " + what);
}

FeatureExtractor::FeatureExtractor(std::shared_ptr<ModelSession> model, FeatureSpec spec)
    : model_(std::move(model)), spec_(std::move(spec)) {
  const ModelSession& m = *model_;
  if (spec_.inputName.empty())
    for (auto& t : m.inputs()) if (t.shape.size() == 4) { spec_.inputName = t.name; break; }
  const TensorInfo* in = m.FindInput(spec_.inputName);
  if (!in || in->type != "float32" || in->shape.size() != 4)
    throw Contract(m, "needs a float32 image input [N,3,H,W]" + (spec_.inputName.empty() ? std::string() : " named '" + spec_.inputName + "'"));
  if (m.inputs().size() != 1) throw Contract(m, "must have exactly one input, has " + std::to_string(m.inputs().size()));
  if (spec_.pre.height <= 0) spec_.pre.height = static_cast<int>(in->shape[2]);
  if (spec_.pre.width <= 0) spec_.pre.width = static_cast<int>(in->shape[3]);
  if (spec_.pre.height <= 0 || spec_.pre.width <= 0)
    throw Contract(m, "input size is symbolic in the model; the model card must give it");
  fixedBatch_ = in->shape[0] > 0;
  if (fixedBatch_) spec_.maxBatch = static_cast<int>(in->shape[0]);
  if (spec_.maxBatch < 1) spec_.maxBatch = 1;

  if (spec_.outputName.empty()) {
    if (m.outputs().size() != 1)
      throw Contract(m, "has " + std::to_string(m.outputs().size()) + " outputs; the model card must name the feature output");
    spec_.outputName = m.outputs()[0].name;
  }
  const TensorInfo* out = m.FindOutput(spec_.outputName);
  if (!out) throw Contract(m, "has no output named '" + spec_.outputName + "'");
  if (out->type != "float32") throw Contract(m, "feature output '" + out->name + "' must be float32, is " + out->type);
  int64_t d = 1;
  for (size_t i = 1; i < out->shape.size(); ++i) d *= out->shape[i];
  if (out->shape.size() < 2 || d <= 0)
    throw Contract(m, "feature output '" + out->name + "' must be [N,D] with a fixed D");
  dim_ = static_cast<int>(d);
}

void L2Normalize(float* v, int dim) {
  double sq = 0;
  for (int i = 0; i < dim; ++i) sq += static_cast<double>(v[i]) * v[i];
  if (!(sq > 1e-24) || !std::isfinite(sq)) {
    std::fill(v, v + dim, 0.f);
    return;
  }
  float inv = static_cast<float>(1.0 / std::sqrt(sq));
  for (int i = 0; i < dim; ++i) v[i] *= inv;
}

void FeatureExtractor::PreprocessAll(const std::vector<cv::Mat>& crops, float* dst) const {
  const size_t per = inputSize();
  for (size_t i = 0; i < crops.size(); ++i) PreprocessInto(crops[i], spec_.pre, dst + i * per);
}

void FeatureExtractor::RunPreprocessed(float* input, size_t rows, float* out, StageTimes* t) const {
  const int W = spec_.pre.width, H = spec_.pre.height;
  const size_t per = inputSize();
  Stopwatch sw;
  for (size_t start = 0; start < rows; start += spec_.maxBatch) {
    const size_t n = std::min(rows - start, static_cast<size_t>(spec_.maxBatch));
    std::array<int64_t, 4> shape{static_cast<int64_t>(n), 3, H, W};
    std::vector<Ort::Value> inputs;
    inputs.push_back(Ort::Value::CreateTensor<float>(CpuMemoryInfo(), input + start * per, n * per, shape.data(), 4));
    auto outputs = model_->Run({spec_.inputName.c_str()}, inputs, {spec_.outputName.c_str()});
    if (t) t->recInference += sw.Lap();
    auto info = outputs[0].GetTensorTypeAndShapeInfo();
    if (info.GetElementCount() != n * static_cast<size_t>(dim_))
      throw ShituError(kErrModelContract, "feature model '" + model_->path() + "' returned " +
                                              std::to_string(info.GetElementCount()) + " values for " + std::to_string(n) +
                                              " images of dimension " + std::to_string(dim_));
    float* dst = out + start * dim_;
    std::copy_n(outputs[0].GetTensorData<float>(), n * dim_, dst);
    if (spec_.normalize)
      for (size_t i = 0; i < n; ++i) L2Normalize(dst + i * dim_, dim_);
    if (t) t->recPreprocess += sw.Lap();
  }
}

std::vector<float> FeatureExtractor::Extract(const std::vector<cv::Mat>& crops, StageTimes* t, const CancelFlag& cancel) const {
  const size_t per = inputSize();
  std::vector<float> features(crops.size() * dim_);
  if (crops.empty()) return features;
  // Pre-processed one Run's worth at a time: one buffer for the largest Run,
  // not zero-filled (PreprocessInto writes every value).
  const size_t maxRows = std::min(crops.size(), static_cast<size_t>(spec_.maxBatch));
  std::unique_ptr<float[]> batch(new float[maxRows * per]);
  Stopwatch sw;
  for (size_t start = 0; start < crops.size(); start += maxRows) {
    cancel.ThrowIfCancelled("before a feature batch");
    const size_t n = std::min(crops.size() - start, maxRows);
    for (size_t i = 0; i < n; ++i) PreprocessInto(crops[start + i], spec_.pre, batch.get() + i * per);
    if (t) t->recPreprocess += sw.Lap();
    RunPreprocessed(batch.get(), n, features.data() + start * dim_, t);
    sw.Lap();
  }
  return features;
}

}  // namespace shitu
