class Account:
    """A bank account holding a balance in cents and a history of its transactions."""

    def __init__(self, owner: str, balance: int = 0) -> None:
        """Open an account for owner with an optional starting balance."""
        self.owner = owner
        self.balance = balance
        self.history: list[tuple[str, int]] = []

    def deposit(self, amount: int) -> int:
        """Add a positive amount and return the new balance."""
        if amount <= 0:
            raise ValueError("deposits must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))
        return self.balance

    def withdraw(self, amount: int) -> int:
        """Take out a positive amount no larger than the balance; return the new balance."""
        if amount <= 0 or amount > self.balance:
            raise ValueError("invalid withdrawal")
        self.balance -= amount
        self.history.append(("withdraw", amount))
        return self.balance


def check(candidate):
    acct = candidate("ann", 1000)
    assert acct.deposit(250) == 1250
    assert acct.withdraw(1000) == 250
    assert acct.history == [("deposit", 250), ("withdraw", 1000)]
    for action, amount in [("withdraw", 251), ("withdraw", 0), ("deposit", -5), ("deposit", 0)]:
        try:
            getattr(acct, action)(amount)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {action}({amount})")
    assert acct.balance == 250 and len(acct.history) == 2
    fresh = candidate("bob")
    assert fresh.balance == 0 and fresh.owner == "bob" and fresh.history == []


ENTRY_POINT = "Account"
