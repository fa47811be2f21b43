import os

path = os.path.
