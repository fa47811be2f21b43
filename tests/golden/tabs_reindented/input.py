def f(xs):
	pass
