class Circle:
    def perimeter(self):
        """Length of the edge."""
        # TODO: circumference
        pass
