/* tv-bench-yuvq.c — picture quality of a decoded video against its source, for
 * the VP8 settings table of issue 6 item 2 (bench/vp8-settings.sh).
 *
 * Why: choosing a faster VP8 speed or another encoder option trades CPU for
 * quality at the same bitrate; the trade has to be a figure. Debian 12's
 * GStreamer has no quality-metric element (iqa is not built) and no ffmpeg, so
 * this small program compares two YUV4MPEG2 (y4m) streams frame by frame.
 *
 * Usage: tv-bench-yuvq SOURCE.y4m DECODED.y4m   (DECODED may be /dev/stdin)
 * Both I420 (4:2:0, 8 bit) of the same width and height; frames are paired in
 * order until either stream ends (the encoder must not drop frames).
 * Prints one line: frames, PSNR of luma and of all three planes over the whole
 * stream (from the summed squared error), and the mean SSIM of luma (8x8
 * windows every 4 pixels, the constants of Wang et al. 2004).
 * Exit status: 0 with the line printed; 1 when the headers cannot be read, the
 * sizes differ or no frame was paired; 2 on a usage error. Measurement tool
 * only: no part of the product links it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads "YUV4MPEG2 W.. H.. ..." and returns 0 with the size, -1 otherwise. */
static int
read_header (FILE *f, int *w, int *h)
{
  char line[512];
  if (!fgets (line, sizeof line, f) || strncmp (line, "YUV4MPEG2 ", 10) != 0)
    return -1;
  const char *pw = strstr (line, " W"), *ph = strstr (line, " H");
  if (!pw || !ph)
    return -1;
  *w = atoi (pw + 2);
  *h = atoi (ph + 2);
  /* Only 4:2:0 is handled; the tag is absent for y4menc's default I420. */
  const char *pc = strstr (line, " C");
  if (pc && strncmp (pc + 2, "420", 3) != 0)
    return -1;
  return *w > 0 && *h > 0 && *w <= 8192 && *h <= 8192 ? 0 : -1;
}

/* Reads one "FRAME..." line and @n bytes into @buf; 0 on success. */
static int
read_frame (FILE *f, unsigned char *buf, size_t n)
{
  char line[256];
  if (!fgets (line, sizeof line, f) || strncmp (line, "FRAME", 5) != 0)
    return -1;
  return fread (buf, 1, n, f) == n ? 0 : -1;
}

/* Mean SSIM of two luma planes of @w x @h. */
static double
ssim_luma (const unsigned char *a, const unsigned char *b, int w, int h)
{
  const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  double sum = 0;
  long windows = 0;
  for (int y = 0; y + 8 <= h; y += 4)
    for (int x = 0; x + 8 <= w; x += 4) {
      double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (int j = 0; j < 8; j++) {
        const unsigned char *ra = a + (size_t) (y + j) * w + x, *rb = b + (size_t) (y + j) * w + x;
        for (int i = 0; i < 8; i++) {
          double va = ra[i], vb = rb[i];
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      double ma = sa / 64, mb = sb / 64;
      double var_a = saa / 64 - ma * ma, var_b = sbb / 64 - mb * mb, cov = sab / 64 - ma * mb;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (var_a + var_b + c2));
      windows++;
    }
  return windows ? sum / windows : 1.0;
}

static double
psnr (double sse, double samples)
{
  return sse > 0 ? 10 * log10 (255.0 * 255.0 * samples / sse) : 100.0;
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: tv-bench-yuvq SOURCE.y4m DECODED.y4m\n");
    return 2;
  }
  FILE *src = fopen (argv[1], "rb"), *dec = fopen (argv[2], "rb");
  int w = 0, h = 0, w2 = 0, h2 = 0;
  if (!src || !dec || read_header (src, &w, &h) || read_header (dec, &w2, &h2) || w != w2 || h != h2) {
    fprintf (stderr, "tv-bench-yuvq: need two I420 y4m streams of the same size\n");
    return 1;
  }
  size_t luma = (size_t) w * h, n = luma + 2 * ((size_t) (w + 1) / 2) * ((h + 1) / 2);
  unsigned char *a = malloc (n), *b = malloc (n);
  if (!a || !b)
    return 1;
  double sse_luma = 0, sse_all = 0, ssim = 0;
  long frames = 0;
  while (read_frame (src, a, n) == 0 && read_frame (dec, b, n) == 0) {
    for (size_t i = 0; i < n; i++) {
      double e = (double) a[i] - b[i];
      sse_all += e * e;
      if (i < luma)
        sse_luma += e * e;
    }
    ssim += ssim_luma (a, b, w, h);
    frames++;
  }
  free (a);
  free (b);
  fclose (src);
  fclose (dec);
  if (!frames) {
    fprintf (stderr, "tv-bench-yuvq: no frame paired\n");
    return 1;
  }
  printf ("frames %ld psnr_y %.2f psnr_yuv %.2f ssim_y %.4f\n", frames, psnr (sse_luma, (double) luma * frames),
          psnr (sse_all, (double) n * frames), ssim / frames);
  return 0;
}
