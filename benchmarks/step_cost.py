"""Per-step cost of a fixed-step ERGM flow: (22-step run - 2-step run) / 20, median of 3.

    python benchmarks/step_cost.py N INTEGRATOR      # e.g. 1000 prox
"""
import time, sys, numpy as np
import graphonflow as gf
n=int(sys.argv[1]); integ=sys.argv[2]
rng=np.random.default_rng(0); A=rng.uniform(0.1,0.9,(n,n)); A=(A+A.T)/2
F=gf.ergm([-0.5,1.0])
gf.flow(F,A[:300,:300].copy(),t1=0.05,dt=0.01,integrator=integ,save_fn=lambda t,B: None)
def run(k):
    t0=time.perf_counter(); gf.flow(F,A,t1=k*0.01,dt=0.01,integrator=integ,save_fn=lambda t,B: None); return time.perf_counter()-t0
ds=[]
for _ in range(3):
    ds.append((run(22)-run(2))/20)
print(f"{n} {integ} per-step {1e3*np.median(ds):.2f} ms  ({', '.join(f'{1e3*d:.2f}' for d in ds)})")
