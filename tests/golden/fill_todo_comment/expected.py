class Circle:
    def perimeter(self):
        """Length of the edge."""
        return 2 * 3.14159 * self.r
