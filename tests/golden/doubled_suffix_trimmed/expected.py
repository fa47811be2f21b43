value = compute(alpha, beta)
