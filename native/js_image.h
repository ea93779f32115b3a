// Reading an image argument on the JS thread: a path string, a Buffer of
// encoded bytes, or raw pixels {data, width, height, channels, channelOrder}.
#pragma once
#include <napi.h>

#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "image_decode.h"

namespace shitu {

// `keep` receives the JS values whose memory the source points into.
ImageSource ParseImageSource(const Napi::Value& v, std::vector<Napi::Value>& keep, const std::string& label);

// A BGR picture as {data: Buffer, width, height, channels: 3, channelOrder: 'bgr'}.
Napi::Object ImageToJs(Napi::Env env, const cv::Mat& bgr);

}  // namespace shitu
