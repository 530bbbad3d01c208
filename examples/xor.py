"""Learn XOR with nothing but Tensor ops and .backward(): a 2-4-1 network, by hand.

Run: python examples/xor.py
"""

import bricks

bricks.manual_seed(0)
x = bricks.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = bricks.tensor([[0.0], [1.0], [1.0], [0.0]])

# Random initialization breaks the symmetry between the hidden units.
w1 = (bricks.randn(2, 4) * 1.0).requires_grad_()
b1 = bricks.zeros(4, requires_grad=True)
w2 = (bricks.randn(4, 1) * 1.0).requires_grad_()
b2 = bricks.zeros(1, requires_grad=True)
params = [w1, b1, w2, b2]

lr = 0.5
for step in range(2001):
    hidden = (x @ w1 + b1).tanh()
    p = (hidden @ w2 + b2).sigmoid()
    # Log-loss (binary cross-entropy), averaged over the four examples.
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    for w in params:
        w.grad = None
    loss.backward()
    with bricks.no_grad():
        for w in params:
            w.sub_(lr * w.grad)
    if step % 500 == 0:
        print(f"step {step:4d}  loss {loss.item():.4f}")

print("inputs      target  prediction")
for xi, yi, pi in zip(x.tolist(), y.tolist(), p.tolist()):
    print(f"{xi}  {yi[0]:.0f}       {pi[0]:.3f}")
accuracy = ((p > 0.5).float() == y).float().mean().item()
print(f"accuracy: {accuracy:.0%}")
