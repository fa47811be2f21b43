def name(self) -> str: return self._name
