// Model-card-driven pre-processing: resize, scale, mean/std, channel order,
// HWC uint8 -> NCHW float32, written straight into the model's input tensor.
#pragma once
#include <opencv2/core.hpp>

#include <array>
#include <string>

namespace shitu {

struct PreprocessSpec {
  int width = 0, height = 0;        // model input size
  bool keepRatio = false;           // true: fit inside, pad right/bottom with zeros
  int interpolation = 1;            // cv::InterpolationFlags (1 = linear, 2 = cubic, 3 = area)
  float scale = 1.f / 255.f;        // applied to 0..255 values before mean/std
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  bool rgb = true;                  // channel order the model expects
};

// Ratio of model-input pixels to original pixels along each axis.
struct ResizeInfo {
  float scaleX = 1.f, scaleY = 1.f;
};

// Writes 3*height*width floats (one image, CHW) at dst. `bgr` is CV_8UC3.
ResizeInfo PreprocessInto(const cv::Mat& bgr, const PreprocessSpec& spec, float* dst);

}  // namespace shitu
