"""Reference timings of one expert FFN (SwiGLU) with PyTorch/cuBLAS on a CUDA GPU, to set beside the
WebGPU-calibrated profile measured on the same GPU (docs/calibration.md). Prints one JSON object.
Usage (on a machine with torch and CUDA): python3 scripts/device/torch-ffn.py > torch-ffn.json
"""
import json
import torch

def ffn_us(tokens, d_model, d_ff, dtype, reps=50):
    dev = "cuda"
    x = torch.randn(tokens, d_model, device=dev, dtype=dtype)
    w1 = torch.randn(d_model, d_ff, device=dev, dtype=dtype) * 0.02
    w3 = torch.randn(d_model, d_ff, device=dev, dtype=dtype) * 0.02
    w2 = torch.randn(d_ff, d_model, device=dev, dtype=dtype) * 0.02
    def run():
        h = torch.nn.functional.silu(x @ w1) * (x @ w3)
        return h @ w2
    for _ in range(5):
        run()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record(); run(); b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    times.sort()
    return {"min_us": round(times[0], 2), "median_us": round(times[len(times) // 2], 2)}

torch.backends.cuda.matmul.allow_tf32 = False
out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "act": "swiglu", "points": []}
for d_model, d_ff in ((512, 1024), (2048, 1024)):
    for dtype in (torch.float32, torch.float16):
        for tokens in (1, 8, 32, 128, 512, 2048):
            r = ffn_us(tokens, d_model, d_ff, dtype)
            out["points"].append({"d_model": d_model, "d_ff": d_ff, "dtype": str(dtype).replace("torch.", ""),
                                  "tokens": tokens, **r})
print(json.dumps(out))
