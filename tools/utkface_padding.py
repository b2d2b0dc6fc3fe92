"""The padding that makes the alignment of `fineface align` / `--detect` match UTKFace's
"aligned & cropped" faces: MTCNN's landmarks (facenet-pytorch) on 199 UTKFace faces, the
least-squares similarity from the template (dlib's mean face at MTCNN's points, as
crates/fineface-detect/src/align.rs) and the padding p with side = scale * (1 + 2 p).

    python3 tools/utkface_padding.py   # torch, facenet-pytorch

Measured 2026-12-05: median 0.092 (10th-90th percentile 0.03-0.16).
"""

import os, numpy as np, torch
from PIL import Image
from facenet_pytorch import MTCNN
torch.set_num_threads(2)
L=[(0.121737,0.216423),(0.187122,0.178758),(0.265825,0.179852),(0.334606,0.231733),(0.260918,0.245099),(0.182743,0.244077)]
R=[(0.645647,0.231733),(0.714428,0.179852),(0.793132,0.178758),(0.858516,0.216423),(0.79751,0.244077),(0.719335,0.245099)]
T=np.array([np.mean(L,0),np.mean(R,0),[0.490127,0.515625],[0.254149,0.780233],[0.726104,0.780233]])
m=MTCNN(keep_all=True)
d=os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../shared/data/utkface/UTKFace')
names=sorted(os.listdir(d))[::15][:200]
pads=[]
for n in names:
    im=Image.open(os.path.join(d,n)).convert('RGB')
    b,p,lm=m.detect(im,landmarks=True)
    if b is None: continue
    i=int(np.argmax((b[:,2]-b[:,0])*(b[:,3]-b[:,1]))); X=lm[i]
    mf,mt=T.mean(0),X.mean(0); f=T-mf; t=X-mt
    a=(f*t).sum()/(f*f).sum(); c=(f[:,0]*t[:,1]-f[:,1]*t[:,0]).sum()/(f*f).sum()
    s=np.hypot(a,c); S=im.size[0]
    pads.append((S/s-1)/2)
pads=np.array(pads); print(len(pads), np.median(pads), np.percentile(pads,[10,25,75,90]))
