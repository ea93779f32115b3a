#include "image_decode.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "errors.h"
#include "jpeg_decode.h"

namespace shitu {

static std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    int e = errno;
    throw ShituError(e == ENOENT ? kErrImageMissing : kErrImageDecode,
                     "cannot read image '" + path + "': " + std::strerror(e));
  }
  std::streamsize size = f.tellg();
  f.seekg(0);
  std::vector<uint8_t> buf(static_cast<size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(buf.data()), size))
    throw ShituError(kErrImageDecode, "cannot read image '" + path + "'");
  return buf;
}

static std::string AllowedList(uint32_t formats) {
  std::string out;
  for (uint32_t bit = 1; bit <= static_cast<uint32_t>(ImageFormat::Exr); bit <<= 1)
    if (formats & bit) out += (out.empty() ? "" : ", ") + std::string(FormatName(static_cast<ImageFormat>(bit)));
  return out.empty() ? "none" : out;
}

static void CheckPixels(uint64_t w, uint64_t h, const DecodeLimits& limits, const std::string& label) {
  if (limits.maxPixels > 0 && w * h > limits.maxPixels)
    throw ShituError(kErrImageTooLarge, "image " + label + " is " + std::to_string(w) + "x" + std::to_string(h) + " (" +
                                            std::to_string(w * h) + " pixels), over the limit of " +
                                            std::to_string(limits.maxPixels) + " pixels");
}

// Header first: the format must be allowed and the picture within the limit.
static ImageHeader CheckHeader(const uint8_t* data, size_t len, const DecodeLimits& limits, const std::string& label) {
  const ImageFormat f = SniffFormat(data, len);
  // Unknown content is an undecodable image (as before the allowlist); a known
  // format that is not enabled is ERR_IMAGE_FORMAT.
  if (f == ImageFormat::Unknown)
    throw ShituError(kErrImageDecode, "cannot decode image " + label + ": not a supported image format (allowed: " +
                                          AllowedList(limits.formats) + ")");
  if (!(limits.formats & static_cast<uint32_t>(f)))
    throw ShituError(kErrImageFormat, "cannot decode image " + label + ": " + FormatName(f) +
                                          " images are not enabled (allowed: " + AllowedList(limits.formats) + ")");
  ImageHeader h = ProbeImage(data, len, label);
  h.format = f;
  CheckPixels(h.width, h.height, limits, label);
  return h;
}

static int64_t CeilDiv(uint64_t a, int b) { return static_cast<int64_t>((a + b - 1) / b); }

// The largest JPEG scale-down (1/2, 1/4, 1/8) that keeps the picture's short
// and long sides at least `need` asks; 1 when none does or it is not a JPEG.
static int ReductionFor(const ImageHeader& h, const ReducedDecode& need) {
  if (h.format != ImageFormat::Jpeg || need.minShortSide <= 0 || need.minLongSide <= 0) return 1;
  const uint64_t shortSide = std::min(h.width, h.height), longSide = std::max(h.width, h.height);
  for (int s : {8, 4, 2})
    if (CeilDiv(shortSide, s) >= need.minShortSide && CeilDiv(longSide, s) >= need.minLongSide) return s;
  return 1;
}

static int ReducedFlag(int s) {
  switch (s) {
    case 2: return cv::IMREAD_REDUCED_COLOR_2;
    case 4: return cv::IMREAD_REDUCED_COLOR_4;
    case 8: return cv::IMREAD_REDUCED_COLOR_8;
    default: return cv::IMREAD_COLOR;
  }
}

// `need` null: full decode. Otherwise a JPEG may be decoded at 1/2, 1/4 or 1/8
// scale; `full` receives the full picture's size as oriented.
static cv::Mat DecodeBytes(const uint8_t* data, size_t len, const DecodeLimits& limits, const std::string& label,
                           const ReducedDecode* need = nullptr, cv::Size* full = nullptr) {
  if (len == 0) throw ShituError(kErrImageDecode, "image " + label + " is empty (0 bytes)");
  if (len > static_cast<size_t>(INT32_MAX)) throw ShituError(kErrImageTooLarge, "image " + label + " is over 2 GiB");
  const ImageHeader header = CheckHeader(data, len, limits, label);
  const int s = need ? ReductionFor(header, *need) : 1;
  cv::Mat encoded(1, static_cast<int>(len), CV_8UC1, const_cast<uint8_t*>(data));
  cv::Mat img;
  try {
    // A clean JPEG goes straight through libjpeg-turbo (the same pixels, less time);
    // any other file, and a JPEG that path declines, through OpenCV.
    // IMREAD_COLOR (and its REDUCED variants): grayscale and RGBA become BGR;
    // EXIF orientation is applied (OpenCV reads the EXIF block once, with the header).
    if (header.format != ImageFormat::Jpeg || !DecodeJpegTurbo(data, len, s, header.width, header.height, &img))
      img = cv::imdecode(encoded, ReducedFlag(s));
  } catch (const std::bad_alloc&) {
    throw ShituError(kErrOutOfMemory, "out of memory decoding image " + label);
  } catch (const cv::Exception& e) {
    if (e.code == cv::Error::StsNoMem) throw ShituError(kErrOutOfMemory, "out of memory decoding image " + label);
    throw ShituError(kErrImageDecode, "cannot decode image " + label + ": " + e.what());
  }
  if (img.empty())
    throw ShituError(kErrImageDecode, "cannot decode image " + label +
                                          ": not a supported image format or the data is corrupt");
  if (full) {
    if (s == 1) {
      *full = img.size();
    } else {
      // libjpeg's scaled output is ceil(side / s); EXIF orientation may have swapped the sides.
      const bool asStored = img.cols == CeilDiv(header.width, s) && img.rows == CeilDiv(header.height, s);
      const int w = static_cast<int>(header.width), h = static_cast<int>(header.height);
      *full = asStored ? cv::Size(w, h) : cv::Size(h, w);
    }
  }
  return img;
}

static cv::Mat FromRaw(const ImageSource& src) {
  const int c = src.channels;
  if (src.width <= 0 || src.height <= 0 || (c != 1 && c != 3 && c != 4))
    throw ShituError(kErrImageDecode, "raw image " + src.label + " has an invalid shape " +
                                          std::to_string(src.width) + "x" + std::to_string(src.height) +
                                          "x" + std::to_string(c));
  CheckPixels(static_cast<uint64_t>(src.width), static_cast<uint64_t>(src.height), src.limits, src.label);
  size_t need = static_cast<size_t>(src.width) * src.height * c;
  if (src.length < need)
    throw ShituError(kErrImageDecode, "raw image " + src.label + " needs " + std::to_string(need) +
                                          " bytes but has " + std::to_string(src.length));
  cv::Mat view(src.height, src.width, CV_8UC(c), const_cast<uint8_t*>(src.data));
  cv::Mat out;
  switch (c) {
    case 1: cv::cvtColor(view, out, cv::COLOR_GRAY2BGR); break;
    case 3:
      if (src.rawIsBgr) out = view.clone();
      else cv::cvtColor(view, out, cv::COLOR_RGB2BGR);
      break;
    default: cv::cvtColor(view, out, src.rawIsBgr ? cv::COLOR_BGRA2BGR : cv::COLOR_RGBA2BGR); break;
  }
  return out;
}

cv::Mat DecodeImage(const ImageSource& src) {
  switch (src.kind) {
    case ImageSource::Kind::Path: {
      std::vector<uint8_t> bytes = ReadWholeFile(src.path);
      return DecodeBytes(bytes.data(), bytes.size(), src.limits, "'" + src.path + "'");
    }
    case ImageSource::Kind::Bytes:
      return DecodeBytes(src.data, src.length, src.limits, src.label);
    case ImageSource::Kind::Raw:
      return FromRaw(src);
  }
  throw ShituError(kErrInternal, "unknown image source");
}

cv::Mat DecodeImageReduced(const ImageSource& src, const ReducedDecode& need, cv::Size* full) {
  switch (src.kind) {
    case ImageSource::Kind::Path: {
      std::vector<uint8_t> bytes = ReadWholeFile(src.path);
      return DecodeBytes(bytes.data(), bytes.size(), src.limits, "'" + src.path + "'", &need, full);
    }
    case ImageSource::Kind::Bytes:
      return DecodeBytes(src.data, src.length, src.limits, src.label, &need, full);
    case ImageSource::Kind::Raw: {
      cv::Mat img = FromRaw(src);
      *full = img.size();
      return img;
    }
  }
  throw ShituError(kErrInternal, "unknown image source");
}

}  // namespace shitu
