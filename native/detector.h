// Main-body detection for one image. Two output contracts:
//  - "nms": the export has NMS inside (PP-ShiTuV2_det): inputs image +
//    scale_factor [+ im_shape], outputs boxes [M,6] (+ count [N]) already in
//    original-image pixels;
//  - "gfl": raw PicoDet/GFL heads (per stride class scores + box
//    distributions), decoded and NMS'd here.
// The contract is resolved and checked against the model once, at construction.
#pragma once
#include <opencv2/core.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "detection_postprocess.h"
#include "model_session.h"
#include "preprocess.h"
#include "stage_times.h"

namespace shitu {

struct DetectorSpec {
  PreprocessSpec pre;
  std::string contract = "auto";  // "auto" | "nms" | "gfl"
  std::string imageInput, scaleFactorInput, imShapeInput;  // empty = find by shape/name
  std::string boxesOutput, countOutput;                     // "nms"
  std::vector<std::string> scoreOutputs, distOutputs;       // "gfl", one per stride, in stride order
  std::vector<int> strides{8, 16, 32, 64};                  // "gfl"
  int regMax = 7;                                           // "gfl"
  float nmsIou = 0.6f;                                      // "gfl"
  int maxDetections = 100;                                  // "gfl": keep_top_k
  float threshold = 0.5f;
  bool wholeImageFallback = true;
};

class Detector {
 public:
  Detector(std::shared_ptr<ModelSession> model, DetectorSpec spec);
  // Boxes in original-image pixels, best first. `threshold` < 0 uses the spec's.
  std::vector<Detection> Detect(const cv::Mat& bgr, float threshold, StageTimes* times) const;
  const DetectorSpec& spec() const { return spec_; }
  const std::string& contract() const { return spec_.contract; }

 private:
  // The model's image input, pre-processed (one allocation, written once).
  struct ImageTensor {
    std::unique_ptr<float[]> data;
    size_t size = 0;
    std::array<int64_t, 4> shape{};
    ResizeInfo resize;
  };
  ImageTensor Prepare(const cv::Mat& bgr) const;
  std::vector<Detection> RunNms(const cv::Mat& bgr, StageTimes* t, Stopwatch& sw) const;
  std::vector<Detection> RunGfl(const cv::Mat& bgr, float threshold, StageTimes* t, Stopwatch& sw) const;
  std::shared_ptr<ModelSession> model_;
  DetectorSpec spec_;
  int numClasses_ = 0;
  std::vector<int> gridW_, gridH_;
};

}  // namespace shitu
