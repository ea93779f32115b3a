#include "preprocess.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace shitu {

ResizeInfo PreprocessInto(const cv::Mat& bgr, const PreprocessSpec& spec, float* dst) {
  const int W = spec.width, H = spec.height;
  ResizeInfo info;
  cv::Mat resized;
  int rw = W, rh = H;
  if (spec.keepRatio) {
    float r = std::min(static_cast<float>(W) / bgr.cols, static_cast<float>(H) / bgr.rows);
    rw = std::max(1, static_cast<int>(std::round(bgr.cols * r)));
    rh = std::max(1, static_cast<int>(std::round(bgr.rows * r)));
  }
  if (rw == bgr.cols && rh == bgr.rows) resized = bgr;
  else cv::resize(bgr, resized, cv::Size(rw, rh), 0, 0, spec.interpolation);
  info.scaleX = static_cast<float>(rw) / bgr.cols;
  info.scaleY = static_cast<float>(rh) / bgr.rows;

  // out = (v * scale - mean) / std  ==  v * a + b, per channel; one pass, planar writes.
  // Channel c of the output reads BGR channel src[c].
  const int src[3] = {spec.rgb ? 2 : 0, 1, spec.rgb ? 0 : 2};
  float a[3], b[3];
  for (int c = 0; c < 3; ++c) {
    a[c] = spec.scale / spec.std[c];
    b[c] = -spec.mean[c] / spec.std[c];
  }
  const size_t plane = static_cast<size_t>(W) * H;
  float* p0 = dst;
  float* p1 = dst + plane;
  float* p2 = dst + 2 * plane;
  if (spec.keepRatio && (rw != W || rh != H)) std::fill(dst, dst + 3 * plane, 0.f);
  for (int y = 0; y < rh; ++y) {
    const uint8_t* row = resized.ptr<uint8_t>(y);
    const size_t o = static_cast<size_t>(y) * W;
    for (int x = 0; x < rw; ++x) {
      const uint8_t* px = row + 3 * x;
      p0[o + x] = px[src[0]] * a[0] + b[0];
      p1[o + x] = px[src[1]] * a[1] + b[1];
      p2[o + x] = px[src[2]] * a[2] + b[2];
    }
  }
  return info;
}

}  // namespace shitu
