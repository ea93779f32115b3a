#include "detector.h"

#include <algorithm>
#include <cmath>

#include "errors.h"

namespace shitu {

static ShituError Contract(const ModelSession& m, const std::string& what) {
  return ShituError(kErrModelContract, "detector model '" + m.path() + "': " + what);
}

static std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

Detector::Detector(std::shared_ptr<ModelSession> model, DetectorSpec spec)
    : model_(std::move(model)), spec_(std::move(spec)) {
  const ModelSession& m = *model_;
  // Image input: named, else the first 4-d input.
  if (spec_.imageInput.empty())
    for (auto& t : m.inputs()) if (t.shape.size() == 4) { spec_.imageInput = t.name; break; }
  const TensorInfo* img = m.FindInput(spec_.imageInput);
  if (!img) throw Contract(m, "no 4-d image input (inputs: " + std::to_string(m.inputs().size()) + ")");
  if (img->type != "float32" || img->shape.size() != 4 || (img->shape[1] != 3 && img->shape[1] != -1))
    throw Contract(m, "image input '" + img->name + "' must be float32 [N,3,H,W], got " + img->type + " " + ShapeStr(img->shape));
  if (spec_.pre.height <= 0) spec_.pre.height = static_cast<int>(img->shape[2]);
  if (spec_.pre.width <= 0) spec_.pre.width = static_cast<int>(img->shape[3]);
  if (spec_.pre.height <= 0 || spec_.pre.width <= 0)
    throw Contract(m, "input size is symbolic in the model; the model card must give it");
  if (spec_.scaleFactorInput.empty() && m.FindInput("scale_factor")) spec_.scaleFactorInput = "scale_factor";
  if (spec_.imShapeInput.empty() && m.FindInput("im_shape")) spec_.imShapeInput = "im_shape";
  for (auto& t : m.inputs())
    if (t.name != spec_.imageInput && t.name != spec_.scaleFactorInput && t.name != spec_.imShapeInput)
      throw Contract(m, "unexpected input '" + t.name + "' (known: image, scale_factor, im_shape)");

  if (spec_.contract == "auto") {
    bool hasBoxes = false;
    for (auto& t : m.outputs()) if (t.shape.size() == 2 && t.shape[1] == 6) hasBoxes = true;
    spec_.contract = hasBoxes ? "nms" : "gfl";
  }

  if (spec_.contract == "nms") {
    if (spec_.boxesOutput.empty())
      for (auto& t : m.outputs()) if (t.shape.size() == 2 && t.shape[1] == 6) { spec_.boxesOutput = t.name; break; }
    if (spec_.countOutput.empty())
      for (auto& t : m.outputs()) if (t.shape.size() == 1 && t.name != spec_.boxesOutput) { spec_.countOutput = t.name; break; }
    const TensorInfo* b = m.FindOutput(spec_.boxesOutput);
    if (!b || b->type != "float32")
      throw Contract(m, "contract 'nms' needs a float32 boxes output [M,6] = [class, score, x1, y1, x2, y2]");
  } else if (spec_.contract == "gfl") {
    if (spec_.scoreOutputs.empty() && spec_.distOutputs.empty()) {
      // Group the 3-d outputs [1, HW, X] by HW; within a level, the distribution
      // has X == 4*(regMax+1), the class map the other one. Levels by HW, largest first.
      const int distWidth = 4 * (spec_.regMax + 1);
      std::vector<const TensorInfo*> outs;
      for (auto& t : m.outputs()) if (t.shape.size() == 3) outs.push_back(&t);
      std::stable_sort(outs.begin(), outs.end(), [](auto* a, auto* b) { return a->shape[1] > b->shape[1]; });
      for (size_t i = 0; i + 1 < outs.size(); i += 2) {
        const TensorInfo *a = outs[i], *b = outs[i + 1];
        if (a->shape[1] != b->shape[1]) throw Contract(m, "raw head outputs do not pair up by size");
        bool aIsDist = a->shape[2] == distWidth && b->shape[2] != distWidth;
        spec_.distOutputs.push_back(aIsDist ? a->name : b->name);
        spec_.scoreOutputs.push_back(aIsDist ? b->name : a->name);
      }
    }
    if (spec_.scoreOutputs.empty() || spec_.scoreOutputs.size() != spec_.distOutputs.size())
      throw Contract(m, "contract 'gfl' needs per-stride class-score and box-distribution outputs [1,HW,C] / [1,HW,4*(reg_max+1)]; found " +
                            std::to_string(m.outputs().size()) + " outputs");
    if (spec_.strides.size() < spec_.scoreOutputs.size())
      throw Contract(m, std::to_string(spec_.scoreOutputs.size()) + " levels but only " +
                            std::to_string(spec_.strides.size()) + " strides");
    for (size_t l = 0; l < spec_.scoreOutputs.size(); ++l) {
      const TensorInfo* s = m.FindOutput(spec_.scoreOutputs[l]);
      const TensorInfo* d = m.FindOutput(spec_.distOutputs[l]);
      if (!s || !d) throw Contract(m, "missing output '" + (!s ? spec_.scoreOutputs[l] : spec_.distOutputs[l]) + "'");
      int st = spec_.strides[l];
      int gw = (spec_.pre.width + st - 1) / st, gh = (spec_.pre.height + st - 1) / st;
      if (s->shape.size() != 3 || s->shape[1] != static_cast<int64_t>(gw) * gh)
        throw Contract(m, "output '" + s->name + "' " + ShapeStr(s->shape) + " does not match stride " +
                              std::to_string(st) + " at " + std::to_string(spec_.pre.width) + "x" + std::to_string(spec_.pre.height));
      if (d->shape.size() != 3 || d->shape[2] != 4 * (spec_.regMax + 1))
        throw Contract(m, "output '" + d->name + "' " + ShapeStr(d->shape) + " is not a box distribution with reg_max " +
                              std::to_string(spec_.regMax));
      numClasses_ = static_cast<int>(s->shape[2]);
      gridW_.push_back(gw);
      gridH_.push_back(gh);
    }
  } else {
    throw Contract(m, "unknown output contract '" + spec_.contract + "' (expected nms or gfl)");
  }
}

std::vector<Detection> Detector::Detect(const cv::Mat& bgr, float threshold, StageTimes* t) const {
  Stopwatch sw;
  const float thr = threshold >= 0 ? threshold : spec_.threshold;
  std::vector<Detection> raw = spec_.contract == "nms" ? RunNms(bgr, t, sw) : RunGfl(bgr, thr, t, sw);
  auto out = FinishDetections(std::move(raw), thr, bgr.cols, bgr.rows,
                              spec_.wholeImageFallback);
  if (t) t->detPostprocess += sw.Lap();
  return out;
}

Detector::ImageTensor Detector::Prepare(const cv::Mat& bgr) const {
  ImageTensor in;
  in.shape = {1, 3, spec_.pre.height, spec_.pre.width};
  in.size = 3 * static_cast<size_t>(spec_.pre.width) * spec_.pre.height;
  in.data.reset(new float[in.size]);  // not zero-filled: PreprocessInto writes every value
  in.resize = PreprocessInto(bgr, spec_.pre, in.data.get());
  return in;
}

std::vector<Detection> Detector::RunNms(const cv::Mat& bgr, StageTimes* t, Stopwatch& sw) const {
  ImageTensor image = Prepare(bgr);
  const ResizeInfo& r = image.resize;
  std::array<int64_t, 2> pairShape{1, 2};
  // PaddleDetection convention: scale_factor = [scale_y, scale_x]; im_shape = resized [h, w].
  float scaleFactor[2] = {r.scaleY, r.scaleX};
  float imShape[2] = {std::round(bgr.rows * r.scaleY), std::round(bgr.cols * r.scaleX)};
  std::vector<const char*> names{spec_.imageInput.c_str()};
  std::vector<Ort::Value> inputs;
  inputs.push_back(Ort::Value::CreateTensor<float>(CpuMemoryInfo(), image.data.get(), image.size, image.shape.data(), 4));
  if (!spec_.scaleFactorInput.empty()) {
    names.push_back(spec_.scaleFactorInput.c_str());
    inputs.push_back(Ort::Value::CreateTensor<float>(CpuMemoryInfo(), scaleFactor, 2, pairShape.data(), 2));
  }
  if (!spec_.imShapeInput.empty()) {
    names.push_back(spec_.imShapeInput.c_str());
    inputs.push_back(Ort::Value::CreateTensor<float>(CpuMemoryInfo(), imShape, 2, pairShape.data(), 2));
  }
  if (t) t->detPreprocess += sw.Lap();
  std::vector<const char*> outNames{spec_.boxesOutput.c_str()};
  if (!spec_.countOutput.empty()) outNames.push_back(spec_.countOutput.c_str());
  auto outputs = model_->Run(names, inputs, outNames);
  if (t) t->detInference += sw.Lap();

  auto info = outputs[0].GetTensorTypeAndShapeInfo();
  auto shape = info.GetShape();
  if (shape.size() != 2 || shape[1] != 6)
    throw ShituError(kErrModelContract, "detector model '" + model_->path() + "' returned boxes of shape " + ShapeStr(shape) + ", expected [M,6]");
  int64_t rows = shape[0];
  if (outputs.size() > 1) {
    auto ci = outputs[1].GetTensorTypeAndShapeInfo();
    if (ci.GetElementCount() >= 1) {
      int64_t n = ci.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 ? outputs[1].GetTensorData<int64_t>()[0]
                                                                             : outputs[1].GetTensorData<int32_t>()[0];
      rows = std::min(rows, std::max<int64_t>(0, n));
    }
  }
  const float* b = outputs[0].GetTensorData<float>();
  std::vector<Detection> dets;
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = b + i * 6;
    Detection d;
    d.cls = static_cast<int>(row[0]);
    d.score = row[1];
    d.x1 = row[2]; d.y1 = row[3]; d.x2 = row[4]; d.y2 = row[5];
    dets.push_back(d);
  }
  return dets;
}

std::vector<Detection> Detector::RunGfl(const cv::Mat& bgr, float threshold, StageTimes* t, Stopwatch& sw) const {
  ImageTensor image = Prepare(bgr);
  const ResizeInfo& r = image.resize;
  std::vector<const char*> names{spec_.imageInput.c_str()};
  std::vector<Ort::Value> inputs;
  inputs.push_back(Ort::Value::CreateTensor<float>(CpuMemoryInfo(), image.data.get(), image.size, image.shape.data(), 4));
  if (t) t->detPreprocess += sw.Lap();
  std::vector<const char*> outNames;
  for (size_t l = 0; l < spec_.scoreOutputs.size(); ++l) {
    outNames.push_back(spec_.scoreOutputs[l].c_str());
    outNames.push_back(spec_.distOutputs[l].c_str());
  }
  auto outputs = model_->Run(names, inputs, outNames);
  if (t) t->detInference += sw.Lap();

  std::vector<GflLevel> levels;
  for (size_t l = 0; l < spec_.scoreOutputs.size(); ++l)
    levels.push_back({outputs[2 * l].GetTensorData<float>(), outputs[2 * l + 1].GetTensorData<float>(),
                      spec_.strides[l], gridW_[l], gridH_[l]});
  GflParams p;
  p.numClasses = numClasses_;
  p.regMax = spec_.regMax;
  // Boxes under the final threshold can never suppress a kept box (NMS is
  // greedy by score), so filtering before NMS gives the same result, faster.
  p.scoreThreshold = std::max(0.025f, threshold);
  auto cands = DecodeGfl(levels, p);
  for (auto& d : cands) {  // model-input pixels -> original pixels
    d.x1 /= r.scaleX; d.x2 /= r.scaleX;
    d.y1 /= r.scaleY; d.y2 /= r.scaleY;
  }
  return ClassAwareNms(std::move(cands), spec_.nmsIou, spec_.maxDetections);
}

}  // namespace shitu
