#include "image_probe.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "errors.h"

namespace shitu {

namespace {

struct Reader {
  const uint8_t* d;
  size_t n;
  const std::string& label;
  const char* fmt;

  [[noreturn]] void Fail(const std::string& what) const {
    throw ShituError(kErrImageDecode, std::string("cannot decode image ") + label + ": " + fmt + " header " + what);
  }
  void Need(size_t pos, size_t count) const {
    if (pos > n || count > n - pos) Fail("is truncated");
  }
  uint32_t U8(size_t p) const { Need(p, 1); return d[p]; }
  uint32_t Be16(size_t p) const { Need(p, 2); return (uint32_t(d[p]) << 8) | d[p + 1]; }
  uint32_t Le16(size_t p) const { Need(p, 2); return uint32_t(d[p]) | (uint32_t(d[p + 1]) << 8); }
  uint32_t Be32(size_t p) const { Need(p, 4); return (uint32_t(d[p]) << 24) | (uint32_t(d[p + 1]) << 16) | (uint32_t(d[p + 2]) << 8) | d[p + 3]; }
  uint32_t Le32(size_t p) const { Need(p, 4); return uint32_t(d[p]) | (uint32_t(d[p + 1]) << 8) | (uint32_t(d[p + 2]) << 16) | (uint32_t(d[p + 3]) << 24); }
};

bool Starts(const uint8_t* d, size_t n, const char* magic, size_t m) { return n >= m && std::memcmp(d, magic, m) == 0; }

// libjpeg's read_markers: SOI, then markers in order until the first SOF (whose
// dimensions the decoder uses); bytes between markers are skipped as libjpeg
// skips them (next_marker scans to the next 0xFF).
ImageHeader ProbeJpeg(const Reader& r) {
  size_t p = 2;
  for (int guard = 0; guard < 100000; ++guard) {
    while (p < r.n && r.d[p] != 0xFF) ++p;
    while (p < r.n && r.d[p] == 0xFF) ++p;
    if (p >= r.n) r.Fail("is truncated (no frame header)");
    const uint8_t m = r.d[p++];
    if (m == 0x00) continue;                            // a stuffed 0xFF: still garbage, keep scanning
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // TEM, RSTn: no length
    if (m == 0xD8) r.Fail("has a second SOI marker");
    if (m == 0xD9) r.Fail("has no frame header before EOI");
    if (m == 0xDA) r.Fail("has scan data before the frame header");
    const uint32_t len = r.Be16(p);
    if (len < 2) r.Fail("has a marker segment shorter than 2 bytes");
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (len < 8) r.Fail("has a frame header shorter than 8 bytes");
      ImageHeader h;
      h.format = ImageFormat::Jpeg;
      h.height = r.Be16(p + 3);
      h.width = r.Be16(p + 5);
      if (h.height == 0) r.Fail("defines its height later (DNL), which is not supported");
      if (h.width == 0) r.Fail("declares a width of 0");
      return h;
    }
    p += len;
  }
  r.Fail("has too many marker segments");
}

ImageHeader ProbePng(const Reader& r) {
  // Signature (8), then IHDR must come first: length 13, "IHDR", width, height.
  r.Need(8, 16);
  if (r.Be32(8) != 13 || !Starts(r.d + 12, r.n - 12, "IHDR", 4)) r.Fail("does not start with an IHDR chunk");
  ImageHeader h;
  h.format = ImageFormat::Png;
  h.width = r.Be32(16);
  h.height = r.Be32(20);
  if (h.width == 0 || h.height == 0 || h.width > 0x7FFFFFFF || h.height > 0x7FFFFFFF) r.Fail("declares an invalid size");
  return h;
}

ImageHeader ProbeWebP(const Reader& r) {
  // RIFF <size> WEBP, then the first chunk: VP8 (lossy), VP8L (lossless) or VP8X (extended: canvas size).
  r.Need(12, 8);
  ImageHeader h;
  h.format = ImageFormat::WebP;
  const uint8_t* c = r.d + 12;
  const size_t body = 20;
  if (std::memcmp(c, "VP8 ", 4) == 0) {
    // frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
    if (r.U8(body + 3) != 0x9d || r.U8(body + 4) != 0x01 || r.U8(body + 5) != 0x2a) r.Fail("has no VP8 start code");
    h.width = r.Le16(body + 6) & 0x3FFF;
    h.height = r.Le16(body + 8) & 0x3FFF;
  } else if (std::memcmp(c, "VP8L", 4) == 0) {
    if (r.U8(body) != 0x2f) r.Fail("has no VP8L signature");
    const uint32_t bits = r.Le32(body + 1);
    h.width = (bits & 0x3FFF) + 1;
    h.height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (std::memcmp(c, "VP8X", 4) == 0) {
    // flags (1) + reserved (3), then canvas width-1 and height-1, 24 bits each.
    h.width = (uint64_t(r.U8(body + 4)) | (uint64_t(r.U8(body + 5)) << 8) | (uint64_t(r.U8(body + 6)) << 16)) + 1;
    h.height = (uint64_t(r.U8(body + 7)) | (uint64_t(r.U8(body + 8)) << 8) | (uint64_t(r.U8(body + 9)) << 16)) + 1;
  } else {
    r.Fail("has an unknown first chunk");
  }
  if (h.width == 0 || h.height == 0) r.Fail("declares a size of 0");
  return h;
}

// Classic TIFF: every directory (page) is read, its ImageWidth/ImageLength and
// tile size checked; the largest page counts. Directory loops are refused.
ImageHeader ProbeTiff(const Reader& r) {
  const bool le = r.d[0] == 'I';
  auto u16 = [&](size_t p) { return le ? r.Le16(p) : r.Be16(p); };
  auto u32 = [&](size_t p) { return le ? r.Le32(p) : r.Be32(p); };
  ImageHeader h;
  h.format = ImageFormat::Tiff;
  h.pages = 0;
  std::set<uint32_t> seen;
  uint32_t ifd = u32(4);
  while (ifd != 0) {
    if (h.pages >= 1024) r.Fail("has more than 1024 pages");
    if (!seen.insert(ifd).second) r.Fail("has a directory loop");
    const uint32_t count = u16(ifd);
    r.Need(ifd + 2, size_t(count) * 12 + 4);
    uint64_t w = 0, ht = 0, tw = 0, th = 0, spp = 1, bps = 1;
    for (uint32_t i = 0; i < count; ++i) {
      const size_t e = ifd + 2 + size_t(i) * 12;
      const uint32_t tag = u16(e), type = u16(e + 2);
      // SHORT (3) values sit in the first two bytes of the value field, LONG (4) fill it.
      uint64_t v;
      if (type == 3) v = u16(e + 8);
      else if (type == 4) v = u32(e + 8);
      else continue;
      switch (tag) {
        case 256: w = v; break;
        case 257: ht = v; break;
        case 258: bps = v; break;   // first sample's bits (several samples: an offset; bounded below)
        case 277: spp = v; break;
        case 322: tw = v; break;
        case 323: th = v; break;
        default: break;
      }
    }
    if (w == 0 || ht == 0) r.Fail("has a page without a width or height");
    if (w > 0x7FFFFFFF || ht > 0x7FFFFFFF || tw > 0x7FFFFFFF || th > 0x7FFFFFFF) r.Fail("declares a size over 2^31");
    if (spp == 0 || spp > 16) r.Fail("declares " + std::to_string(spp) + " samples per pixel");
    if (tw * th > w * ht * 4 + 65536 * 4) r.Fail("declares tiles larger than the image");
    if (w * ht > h.width * h.height) { h.width = w; h.height = ht; }
    (void)bps;
    ++h.pages;
    ifd = u32(ifd + 2 + size_t(count) * 12);
  }
  if (h.pages == 0) r.Fail("has no directory");
  return h;
}

ImageHeader ProbeBmp(const Reader& r) {
  const uint32_t dib = r.Le32(14);
  ImageHeader h;
  h.format = ImageFormat::Bmp;
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    h.width = r.Le16(18);
    h.height = r.Le16(20);
  } else if (dib >= 40) {
    const int32_t w = static_cast<int32_t>(r.Le32(18)), ht = static_cast<int32_t>(r.Le32(22));
    if (w <= 0 || ht == 0 || ht == INT32_MIN) r.Fail("declares an invalid size");
    h.width = static_cast<uint64_t>(w);
    h.height = static_cast<uint64_t>(ht < 0 ? -int64_t(ht) : ht);  // negative: top-down rows
  } else {
    r.Fail("has an unknown DIB header size " + std::to_string(dib));
  }
  if (h.width == 0 || h.height == 0) r.Fail("declares a size of 0");
  return h;
}

// Netpbm (P1-P7) and PFM: ASCII tokens after the magic, '#' comments skipped.
struct Tokens {
  const Reader& r;
  size_t p;
  std::string Next() {
    for (;;) {
      while (p < r.n && std::isspace(r.d[p])) ++p;
      if (p < r.n && r.d[p] == '#') { while (p < r.n && r.d[p] != '\n' && r.d[p] != '\r') ++p; continue; }
      break;
    }
    std::string t;
    while (p < r.n && !std::isspace(r.d[p]) && t.size() < 32) t.push_back(static_cast<char>(r.d[p++]));
    if (t.empty()) r.Fail("is truncated");
    return t;
  }
  uint64_t Number() {
    std::string t = Next();
    if (t.size() > 10 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) r.Fail("has a bad number '" + t + "'");
    return std::stoull(t);
  }
};

ImageHeader ProbePnm(const Reader& r) {
  ImageHeader h;
  h.format = ImageFormat::Pnm;
  Tokens t{r, 2};
  if (r.d[1] == '7') {  // PAM: KEY value lines until ENDHDR
    for (int i = 0; i < 64; ++i) {
      std::string k = t.Next();
      if (k == "ENDHDR") break;
      if (k == "WIDTH") h.width = t.Number();
      else if (k == "HEIGHT") h.height = t.Number();
      else if (k == "DEPTH" || k == "MAXVAL") t.Number();
      else if (k == "TUPLTYPE") t.Next();
      else r.Fail("has an unknown key '" + k + "'");
    }
  } else {
    h.width = t.Number();
    h.height = t.Number();
  }
  if (h.width == 0 || h.height == 0) r.Fail("declares a size of 0");
  return h;
}

ImageHeader ProbePfm(const Reader& r) {
  ImageHeader h;
  h.format = ImageFormat::Pfm;
  Tokens t{r, 2};
  h.width = t.Number();
  h.height = t.Number();
  if (h.width == 0 || h.height == 0) r.Fail("declares a size of 0");
  return h;
}

// Radiance: text lines up to an empty line, then "-Y <h> +X <w>" (or another orientation).
ImageHeader ProbeHdr(const Reader& r) {
  size_t p = 0;
  bool blank = false;
  for (int lines = 0; lines < 1024 && p < r.n && !blank; ++lines) {
    size_t e = p;
    while (e < r.n && r.d[e] != '\n') ++e;
    blank = e == p;
    p = e + 1;
  }
  if (!blank) r.Fail("has no end of header");
  Tokens t{r, p};
  std::string a = t.Next();
  uint64_t n1 = t.Number();
  std::string b = t.Next();
  uint64_t n2 = t.Number();
  if (a.size() != 2 || b.size() != 2) r.Fail("has a bad resolution line");
  ImageHeader h;
  h.format = ImageFormat::Hdr;
  if (a[1] == 'Y') { h.height = n1; h.width = n2; } else { h.width = n1; h.height = n2; }
  if (h.width == 0 || h.height == 0) r.Fail("declares a size of 0");
  return h;
}

ImageHeader ProbeSun(const Reader& r) {
  ImageHeader h;
  h.format = ImageFormat::SunRaster;
  h.width = r.Be32(4);
  h.height = r.Be32(8);
  if (h.width == 0 || h.height == 0) r.Fail("declares a size of 0");
  return h;
}

// JPEG 2000: a raw codestream (SOC + SIZ) or a JP2 file whose jp2c box holds one.
ImageHeader ProbeJ2k(const Reader& r, size_t at) {
  if (r.Be16(at) != 0xFF4F || r.Be16(at + 2) != 0xFF51) r.Fail("has no SIZ marker");
  const uint64_t xs = r.Be32(at + 8), ys = r.Be32(at + 12), xo = r.Be32(at + 16), yo = r.Be32(at + 20);
  if (xs <= xo || ys <= yo) r.Fail("declares an empty image area");
  ImageHeader h;
  h.format = ImageFormat::Jpeg2000;
  h.width = xs - xo;
  h.height = ys - yo;
  return h;
}

ImageHeader ProbeJp2(const Reader& r) {
  size_t p = 0;
  for (int boxes = 0; boxes < 4096; ++boxes) {
    r.Need(p, 8);
    uint64_t len = r.Be32(p);
    const bool codestream = std::memcmp(r.d + p + 4, "jp2c", 4) == 0;
    size_t hdr = 8;
    if (len == 1) { r.Need(p + 8, 8); len = (uint64_t(r.Be32(p + 8)) << 32) | r.Be32(p + 12); hdr = 16; }
    if (codestream) return ProbeJ2k(r, p + hdr);
    if (len == 0) break;  // runs to the end of the file, and is not the codestream
    if (len < hdr || len > r.n - p) r.Fail("has a bad box length");
    p += len;
  }
  r.Fail("has no codestream");
}

// OpenEXR: attributes "name\0type\0<size:4><value>" until an empty name; dataWindow is box2i.
ImageHeader ProbeExr(const Reader& r) {
  size_t p = 8;
  for (int attrs = 0; attrs < 1024; ++attrs) {
    size_t e = p;
    while (e < r.n && r.d[e] != 0 && e - p < 256) ++e;
    r.Need(e, 1);
    if (r.d[e] != 0) r.Fail("has an over-long attribute name");
    std::string name(reinterpret_cast<const char*>(r.d + p), e - p);
    if (name.empty()) break;
    size_t t = e + 1;
    while (t < r.n && r.d[t] != 0 && t - e < 256) ++t;
    r.Need(t, 1);
    const uint32_t size = r.Le32(t + 1);
    const size_t v = t + 5;
    r.Need(v, size);
    if (name == "dataWindow" && size == 16) {
      const int64_t x0 = int32_t(r.Le32(v)), y0 = int32_t(r.Le32(v + 4)), x1 = int32_t(r.Le32(v + 8)), y1 = int32_t(r.Le32(v + 12));
      if (x1 < x0 || y1 < y0) r.Fail("declares an empty data window");
      ImageHeader h;
      h.format = ImageFormat::Exr;
      h.width = uint64_t(x1 - x0 + 1);
      h.height = uint64_t(y1 - y0 + 1);
      return h;
    }
    p = v + size;
  }
  r.Fail("has no dataWindow");
}

}  // namespace

const char* FormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::Jpeg: return "jpeg";
    case ImageFormat::Png: return "png";
    case ImageFormat::WebP: return "webp";
    case ImageFormat::Tiff: return "tiff";
    case ImageFormat::Bmp: return "bmp";
    case ImageFormat::Jpeg2000: return "jp2";
    case ImageFormat::Pnm: return "pnm";
    case ImageFormat::Pfm: return "pfm";
    case ImageFormat::Hdr: return "hdr";
    case ImageFormat::SunRaster: return "sunras";
    case ImageFormat::Exr: return "exr";
    case ImageFormat::Unknown: break;
  }
  return "unknown";
}

ImageFormat FormatFromName(const std::string& name) {
  for (uint32_t bit = 1; bit <= static_cast<uint32_t>(ImageFormat::Exr); bit <<= 1)
    if (name == FormatName(static_cast<ImageFormat>(bit))) return static_cast<ImageFormat>(bit);
  return ImageFormat::Unknown;
}

// The same magic OpenCV's decoders check (checkSignature of each).
ImageFormat SniffFormat(const uint8_t* d, size_t n) {
  if (Starts(d, n, "\xFF\xD8\xFF", 3)) return ImageFormat::Jpeg;
  if (Starts(d, n, "\x89PNG\r\n\x1a\n", 8)) return ImageFormat::Png;
  if (n >= 12 && Starts(d, n, "RIFF", 4) && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::WebP;
  if (Starts(d, n, "II\x2a\x00", 4) || Starts(d, n, "MM\x00\x2a", 4)) return ImageFormat::Tiff;
  if (Starts(d, n, "BM", 2)) return ImageFormat::Bmp;
  if (Starts(d, n, "\x00\x00\x00\x0cjP  \r\n\x87\n", 12) || Starts(d, n, "\xFF\x4F\xFF\x51", 4)) return ImageFormat::Jpeg2000;
  if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7' && std::isspace(d[2])) return ImageFormat::Pnm;
  if (n >= 3 && d[0] == 'P' && (d[1] == 'F' || d[1] == 'f') && std::isspace(d[2])) return ImageFormat::Pfm;
  if (Starts(d, n, "#?RGBE", 6) || Starts(d, n, "#?RADIANCE", 10)) return ImageFormat::Hdr;
  if (Starts(d, n, "\x59\xA6\x6A\x95", 4)) return ImageFormat::SunRaster;
  if (Starts(d, n, "\x76\x2F\x31\x01", 4)) return ImageFormat::Exr;
  return ImageFormat::Unknown;
}

ImageHeader ProbeImage(const uint8_t* data, size_t len, const std::string& label) {
  const ImageFormat f = SniffFormat(data, len);
  Reader r{data, len, label, FormatName(f)};
  switch (f) {
    case ImageFormat::Jpeg: return ProbeJpeg(r);
    case ImageFormat::Png: return ProbePng(r);
    case ImageFormat::WebP: return ProbeWebP(r);
    case ImageFormat::Tiff: return ProbeTiff(r);
    case ImageFormat::Bmp: return ProbeBmp(r);
    case ImageFormat::Jpeg2000: return data[0] == 0xFF ? ProbeJ2k(r, 0) : ProbeJp2(r);
    case ImageFormat::Pnm: return ProbePnm(r);
    case ImageFormat::Pfm: return ProbePfm(r);
    case ImageFormat::Hdr: return ProbeHdr(r);
    case ImageFormat::SunRaster: return ProbeSun(r);
    case ImageFormat::Exr: return ProbeExr(r);
    case ImageFormat::Unknown: break;
  }
  ImageHeader h;
  return h;
}

}  // namespace shitu
