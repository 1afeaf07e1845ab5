"""Procurement: public tenders and sealed bids (issue #11).

For now only the cryptographic core: committee members' personal keys (`committee_keys`) and
the sealing and opening of bids (`sealing`), pure functions over bytes that the pages and tables
to come store and call. Nobody, the portal included, can read a bid before m of the tender's n
committee members have unlocked their shares with their passphrases.
"""
