#!/usr/bin/env python3
"""TIFF and BMP variants (issue 24) for measuring what imbed decodes against Pillow:

    make_tiff_bmp_variants.py OUT [--pillow DIR]

writes 56 files (Pillow and tifffile TIFFs: compressions, planar, tiled, 16/32-bit, float,
CMYK, YCbCr, BigTIFF, ...; hand-made BMPs: RLE4/8, bitfields, V4/V5 and OS/2 1.x and 2.x
headers) and prints which of them Pillow decodes. With --pillow, Pillow's upright RGBA decode
of each file it decodes goes to DIR/NAME.png: tests/photos.rs checks imbed's decode of every
variant against it, and that the ones Pillow refuses fail with a class.
"""
import io, numpy as np, tifffile, struct, os, sys
from PIL import Image, ImageOps
out=os.path.abspath(sys.argv[1]); os.makedirs(out, exist_ok=True)
pillow=os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--pillow" else None
os.chdir(out)
W,H=64,48
img=Image.new("RGB",(W,H),(230,20,20)); img.paste((20,200,40),(32,0,64,24)); img.paste((30,40,220),(0,24,32,48))
a=np.asarray(img)
def tryit(f):
    try: f()
    except Exception as e: print("WRITE FAIL", e)
for c in ["raw","tiff_lzw","tiff_adobe_deflate","packbits","jpeg","tiff_deflate"]:
    tryit(lambda: img.save(f"pil_{c}.tif", compression=c))
tryit(lambda: img.convert("YCbCr").save("pil_ycbcr_jpeg.tif", compression="jpeg"))
tryit(lambda: img.convert("CMYK").save("pil_cmyk_lzw.tif", compression="tiff_lzw"))
tryit(lambda: img.save("pil_multipage.tif", save_all=True, append_images=[img.rotate(90)]))
tryit(lambda: img.convert("1").save("pil_bilevel_g4.tif", compression="group4"))
tryit(lambda: img.convert("1").save("pil_bilevel_g3.tif", compression="group3"))
tryit(lambda: img.convert("P").save("pil_palette.tif"))
tryit(lambda: img.convert("LA").save("pil_la.tif"))
ramp=Image.linear_gradient("L").rotate(90).resize((W,H))  # alpha from 0 (left) to 255 (right)
la=img.convert("LA"); la.putalpha(ramp); tryit(lambda: la.save("pil_la_alpha.tif"))
tryit(lambda: img.convert("I;16").save("pil_i16.tif"))
tryit(lambda: img.convert("F").save("pil_float32_gray.tif"))
tryit(lambda: img.convert("I").save("pil_int32_gray.tif"))
a16=(a.astype(np.uint16)*257)
T=lambda name, arr, **kw: tryit(lambda: tifffile.imwrite(name, arr, **kw))
T("tf_rgb16.tif", a16, photometric="rgb")
T("tf_rgb_float32.tif", a.astype(np.float32)/255, photometric="rgb")
T("tf_rgb_float16.tif", (a.astype(np.float16)/255), photometric="rgb")
T("tf_planar.tif", np.moveaxis(a,2,0), photometric="rgb", planarconfig="separate")
T("tf_planar_deflate.tif", np.moveaxis(a,2,0), photometric="rgb", planarconfig="separate", compression="zlib")
T("tf_tiled.tif", a, photometric="rgb", tile=(16,16))
T("tf_tiled_deflate.tif", a, photometric="rgb", tile=(16,16), compression="zlib")
T("tf_rgb_deflate_pred.tif", a, photometric="rgb", compression="zlib", predictor=True)
T("tf_rgb16_pred.tif", a16, photometric="rgb", compression="zlib", predictor=True)
T("tf_bigendian.tif", a, photometric="rgb", byteorder=">")
T("tf_bigendian16.tif", a16, photometric="rgb", byteorder=">")
T("tf_bigtiff.tif", a, photometric="rgb", bigtiff=True)
T("tf_cmyk16.tif", np.dstack([a16, np.zeros((H,W),np.uint16)]), photometric="separated")
T("tf_rgba16.tif", np.dstack([a16, np.full((H,W),65535,np.uint16)]), photometric="rgb", extrasamples=["unassalpha"])
T("tf_gray32f.tif", a[...,0].astype(np.float32)/255, photometric="minisblack")
# Gray samples libtiff's RGBA interface does not read: Pillow truncates floats, clamps integers.
g=a[...,0].astype(np.float32)*1.1-12.5
T("tf_gray32f_tiled.tif", g, photometric="minisblack", tile=(16,16))
T("tf_gray32f_bigendian.tif", g, photometric="minisblack", byteorder=">")
T("tf_int16_gray.tif", (a[...,1].astype(np.int16)*2-60), photometric="minisblack")
T("tf_uint32_gray.tif", (a[...,2].astype(np.uint32)+40), photometric="minisblack")
T("tf_miniswhite.tif", 255-a[...,0], photometric="miniswhite")
T("tf_uint32.tif", (a.astype(np.uint32)*16843009), photometric="rgb")
T("tf_ycbcr_raw.tif", a, photometric="ycbcr", subsampling=(1,1))
T("tf_rgb_lzma.tif", a, photometric="rgb", compression="lzma")
T("tf_rgba_lzma.tif", np.dstack([a, np.asarray(ramp)]), photometric="rgb", extrasamples=["unassalpha"], compression="lzma")
img.save("bmp_rgb24.bmp"); img.convert("P").save("bmp_p8.bmp"); img.convert("1").save("bmp_1bit.bmp"); img.convert("RGBA").save("bmp_rgba32.bmp")
def bmp(header_size, bpp, compression, pixels, palette=b"", masks=b""):
    info = struct.pack("<IiiHHIIiiII", header_size, W, H, 1, bpp, compression, len(pixels), 2835, 2835, len(palette)//4, 0)
    if header_size > 40: info += masks + b"\0" * (header_size - 40 - len(masks))
    off = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + info + palette + pixels
q=img.convert("P", palette=Image.Palette.ADAPTIVE, colors=3)
pal=q.getpalette()
n=len(pal)//3
palette=b"".join(bytes([pal[i*3+2],pal[i*3+1],pal[i*3],0]) for i in range(n))
idx=np.asarray(q).tolist()
def rle(rows, four):
    out=b""
    for row in rows[::-1]:
        i=0
        while i<len(row):
            j=i
            while j<len(row) and j-i<254 and row[j]==row[i]: j+=1
            out+=bytes([j-i,(row[i]<<4)|row[i] if four else row[i]]); i=j
        out+=b"\0\0"
    return out+b"\0\1"
open("bmp_rle8.bmp","wb").write(bmp(40,8,1,rle(idx,False),palette))
open("bmp_rle4.bmp","wb").write(bmp(40,4,2,rle(idx,True),palette))
px=b"".join(struct.pack("<H",((int(r)>>3)<<11)|((int(g)>>2)<<5)|(int(b)>>3)) for row in a[::-1] for r,g,b in row)
masks=struct.pack("<III",0xF800,0x07E0,0x001F)
open("bmp_565_bitfields.bmp","wb").write(bmp(40,16,3,px,masks))
open("bmp_565_v5.bmp","wb").write(bmp(124,16,3,px,b"",masks))
px32=b"".join(struct.pack("<I",(255<<24)|(int(r)<<16)|(int(g)<<8)|int(b)) for row in a[::-1] for r,g,b in row)
open("bmp_argb32_v4.bmp","wb").write(bmp(108,32,3,px32,b"",struct.pack("<IIII",0xFF0000,0xFF00,0xFF,0xFF000000)))
px24=b""
for row in a[::-1]:
    r=b"".join(bytes([int(b),int(g),int(r_)]) for r_,g,b in row); px24+=r+b"\0"*((4-len(r)%4)%4)
info=struct.pack("<IHHHH",12,W,H,1,24); off=14+12
open("bmp_os2v1.bmp","wb").write(b"BM"+struct.pack("<IHHI",off+len(px24),0,0,off)+info+px24)
info=struct.pack("<IiiHHIIiiII",64,W,H,1,24,0,len(px24),0,0,0,0)+b"\0"*24; off=14+64
open("bmp_os2v2.bmp","wb").write(b"BM"+struct.pack("<IHHI",off+len(px24),0,0,off)+info+px24)
# The short OS/2 2.x header (16 bytes: the fields after the bit count left out, zero); Pillow
# refuses it.
info=struct.pack("<IiiHH",16,W,H,1,24); off=14+16
open("bmp_os2v2_short.bmp","wb").write(b"BM"+struct.pack("<IHHI",off+len(px24),0,0,off)+info+px24)
# OS/2 2.x with a palette of 4-byte entries, and RLE8.
info=struct.pack("<IiiHHIIiiII",64,W,H,1,8,0,0,0,0,len(palette)//4,0)+b"\0"*24; off=14+64+len(palette)
p8=b"".join(bytes(row)+b"\0"*((4-W%4)%4) for row in idx[::-1])
open("bmp_os2v2_p8.bmp","wb").write(b"BM"+struct.pack("<IHHI",off+len(p8),0,0,off)+info+palette+p8)
r8=rle(idx,False)
info=struct.pack("<IiiHHIIiiII",64,W,H,1,8,1,len(r8),0,0,len(palette)//4,0)+b"\0"*24
open("bmp_os2v2_rle8.bmp","wb").write(b"BM"+struct.pack("<IHHI",off+len(r8),0,0,off)+info+palette+r8)
info=struct.pack("<IiiHHIIiiII",40,W,-H,1,24,0,len(px24),0,0,0,0); off=14+40
n=len(px24)//H; rows=[px24[i:i+n] for i in range(0,len(px24),n)][::-1]
open("bmp_topdown.bmp","wb").write(b"BM"+struct.pack("<IHHI",off+len(px24),0,0,off)+info+b"".join(rows))
ok=0
for f in sorted(os.listdir(".")):
    try:
        im=Image.open(f); im.load(); ok+=1; r="ok "+im.mode+" "+str(im.size)
        if pillow:
            os.makedirs(pillow, exist_ok=True)
            ImageOps.exif_transpose(im).convert("RGBA").save(os.path.join(pillow, f+".png"))
    except Exception as e: r="FAIL "+str(e)[:60]
    print(f, r)
print("pillow decodes", ok, "of", len(os.listdir(".")))
