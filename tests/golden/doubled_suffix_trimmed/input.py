value = compute(alpha, )
