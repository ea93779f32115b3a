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

// The decode limits of an options object: {maxPixels?: number, formats?: string[]}
// (absent keys keep DecodeLimits' defaults; unknown format names are a RangeError).
DecodeLimits ParseDecodeLimits(const Napi::Object& o);

// A BGR picture as {data: Buffer, width, height, channels: 3, channelOrder: 'bgr'}.
// The pixels are handed over without a copy where the runtime allows external
// buffers: copying a large picture into a new V8 backing store is where a V8
// allocation failure used to abort the whole process.
Napi::Object ImageToJs(Napi::Env env, const cv::Mat& bgr);

}  // namespace shitu
