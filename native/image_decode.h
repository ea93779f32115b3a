// Turning user input (a file, encoded bytes, raw pixels) into a BGR 8-bit image.
// Decoding is by content, never by file extension; EXIF orientation is applied.
// JPEGs go through libjpeg-turbo directly (jpeg_decode.h), everything else
// through OpenCV's imdecode: the same pixels either way.
// Before anything is decoded the container header is read (image_probe.h):
// formats outside the allowlist and pictures over the pixel limit are refused
// there, so the memory one accepted image takes is bounded by the limit
// (see DecodeLimits).
#pragma once
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

#include "image_probe.h"

namespace shitu {

// What an image may be. The JS layer always passes both (lib/limits.ts holds
// the defaults); these defaults only serve direct native callers.
// Memory per accepted image, OpenCV 4.6 with IMREAD_COLOR: the BGR
// result (3 bytes/pixel) plus the codec's working buffers (up to ~6 bytes/pixel
// for progressive JPEG coefficients or 16-bit TIFF strips; measured 3.2 for 49 MP
// baseline JPEG, PNG and TIFF), so at most about
// 9 bytes x maxPixels (450 MB at the 50-megapixel default), typically 3-4.
struct DecodeLimits {
  uint64_t maxPixels = 0;                   // width x height of the largest page; 0: no limit of ours
  uint32_t formats = kDefaultImageFormats;  // ImageFormat bits that may be decoded
};

struct ImageSource {
  enum class Kind { Path, Bytes, Raw } kind = Kind::Path;
  std::string path;               // Kind::Path
  const uint8_t* data = nullptr;  // Kind::Bytes / Kind::Raw: memory kept alive by the caller
  size_t length = 0;
  int width = 0, height = 0, channels = 0;  // Kind::Raw
  bool rawIsBgr = false;                    // Kind::Raw: channel order of the pixels (default RGB[A])
  std::string label;                        // how errors name this image
  DecodeLimits limits;
};

// Always returns a continuous CV_8UC3 BGR image, or throws ShituError
// (ERR_IMAGE_MISSING for an absent file, ERR_IMAGE_FORMAT for a format not
// allowed, ERR_IMAGE_TOO_LARGE over the pixel limit, ERR_OUT_OF_MEMORY when an
// allocation fails, ERR_IMAGE_DECODE otherwise).
cv::Mat DecodeImage(const ImageSource& src);

// What the models need of a picture: its short and long sides after a
// reduced decode must stay at least this long (0: decode in full).
struct ReducedDecode {
  int minShortSide = 0, minLongSide = 0;
};

// As DecodeImage, but a JPEG is decoded at 1/2, 1/4 or 1/8 scale in libjpeg's
// DCT domain (IMREAD_REDUCED_COLOR_*, about 2x cheaper per halving) when the
// reduced picture still meets `need`; other formats are decoded in full.
// `full` receives the size of the full picture, as oriented (EXIF applied).
cv::Mat DecodeImageReduced(const ImageSource& src, const ReducedDecode& need, cv::Size* full);

}  // namespace shitu
