def spin(n):
    """A pure-Python loop: about 1 ms of one core for n = 20000."""
    total = 0
    for i in range(n):
        total += i * i
    return total
